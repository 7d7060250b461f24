"""Reads a CDF with cdflib and compares it with an expected description.

Usage: python3 cdflib_check.py FILE.cdf EXPECTED.txt
EXPECTED.txt is a Python literal written by the Rust test (tests_cdflib.rs).
Prints what was checked; exits 1 listing every mismatch.
"""

import ast
import sys

import cdflib
import numpy as np
from cdflib import cdfepoch


def as_list(data):
    """Flattens cdflib's return value (scalar, str, numpy array) row-major."""
    if data is None:
        return []
    if isinstance(data, str):
        return [data]
    return [item.item() if hasattr(item, "item") else item for item in np.asarray(data).reshape(-1)]


def main(cdf_path, expected_path):
    with open(expected_path) as expected_file:
        expected = ast.literal_eval(expected_file.read())
    cdf = cdflib.CDF(cdf_path)
    problems = []
    checked = 0

    def check(what, got, want):
        nonlocal checked
        checked += 1
        if got != want:
            problems.append(f"{what}: cdflib has {got!r}, expected {want!r}")

    info = cdf.cdf_info()
    check("encoding", info.Encoding, 6)
    check("majority", info.Majority, "Row_major")
    check("zvariables", list(info.zVariables), [v["name"] for v in expected["variables"]])
    for name, entries in expected["globals"]:
        for number, (type_name, values) in enumerate(entries):
            entry = cdf.attget(name, number)
            check(f"global {name}[{number}] type", entry.Data_Type, type_name)
            check(f"global {name}[{number}] value", as_list(entry.Data), values)

    for variable in expected["variables"]:
        name = variable["name"]
        inquiry = cdf.varinq(name)
        check(f"{name} type", inquiry.Data_Type_Description, variable["type"])
        check(f"{name} dims", list(inquiry.Dim_Sizes), variable["dims"])
        check(f"{name} record variance", bool(inquiry.Rec_Vary), variable["rec_vary"])
        check(f"{name} num_elems", inquiry.Num_Elements, variable["num_elems"])
        check(f"{name} last record", inquiry.Last_Rec, variable["num_records"] - 1)
        check(f"{name} gzip", inquiry.Compress, variable["gzip_level"])
        if variable["num_records"] > 0:
            data = cdf.varget(name)
            check(f"{name} values", as_list(data), variable["values"])
        if variable["utc"] is not None:
            encoded = cdfepoch.encode_tt2000(np.array(variable["values"], dtype=np.int64))
            check(f"{name} utc", as_list(encoded), variable["utc"])
        for attribute, type_name, values in variable["attrs"]:
            entry = cdf.attget(attribute, name)
            check(f"{name}.{attribute} type", entry.Data_Type, type_name)
            check(f"{name}.{attribute} value", as_list(entry.Data), values)

    print(f"cdflib {cdflib.__version__} checked {checked} items, {len(problems)} mismatches")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
