/// Declares `<test>::sqlite` and `<test>::postgres` for each async test body `fn(AnyPool)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let (pool, _dir) = mesh_runtime::store::testing::fresh_sqlite().await;
                super::$name(pool).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(pool) = mesh_runtime::store::testing::fresh_postgres().await else { return };
                super::$name(pool).await;
            }
        }
    )*};
}
