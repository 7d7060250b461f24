//! Compilation of the XTCE model into the decode plan: container paths become numbered
//! slots, and every name reference is resolved to a slot ahead of decoding.

use std::collections::HashMap;

use crate::XtceError;
use crate::model::{
    CompareOp, ComparisonModel, DynamicSize, Encoding, Entry, EnumerationEntry, Model, ParameterType, SizeSpec,
    StringBuffer,
};
use crate::plan::{
    CompiledBuffer, CompiledContainer, CompiledSize, Criterion, DecodeOp, Derived, EnumerationTable, FieldOp,
    FieldPlan, Inheritor, Number, Operand, PacketDefinition, RawKind, SizeRef, ValueRef,
};
use crate::xml::{parse, unknown, unsupported_value};

/// Compiles a loaded model into the decode plan.
pub(crate) fn compile(model: &Model) -> Result<PacketDefinition, XtceError> {
    Compiler::new(model)?.compile()
}

/// One decoded field of the container path being compiled.
struct PathSlot<'m> {
    name: &'m str,
    parameter_type: &'m ParameterType,
}

struct Compiler<'m> {
    model: &'m Model,
    container_index: HashMap<&'m str, usize>,
    compiled: Vec<CompiledContainer>,
    enumerations: Vec<EnumerationTable>,
    enumeration_index: HashMap<&'m str, usize>,
    slot_count: usize,
}

impl<'m> Compiler<'m> {
    fn new(model: &'m Model) -> Result<Self, XtceError> {
        let mut container_index = HashMap::new();
        for (index, container) in model.containers.iter().enumerate() {
            if container_index.insert(container.name.as_str(), index).is_some() {
                return Err(XtceError::Duplicate { kind: "container", name: container.name.clone() });
            }
        }
        for container in &model.containers {
            if let Some(base) = &container.base
                && !container_index.contains_key(base.as_str())
            {
                let context = format!("container \"{}\"", container.name);
                return Err(unknown("base container", base, &context));
            }
        }
        Ok(Compiler {
            model,
            container_index,
            compiled: Vec::new(),
            enumerations: Vec::new(),
            enumeration_index: HashMap::new(),
            slot_count: 0,
        })
    }

    fn compile(mut self) -> Result<PacketDefinition, XtceError> {
        // The reference decoder starts at "CCSDSPacket"; otherwise take the only base-less container.
        let root = match self.container_index.get("CCSDSPacket") {
            Some(&index) => index,
            None => {
                let mut roots = self.model.containers.iter().enumerate().filter(|(_, c)| c.base.is_none());
                match (roots.next(), roots.next()) {
                    (Some((index, _)), None) => index,
                    _ => {
                        let problem = "no container named \"CCSDSPacket\" and no single container without a base";
                        return Err(XtceError::InvalidDefinition(problem.to_string()));
                    }
                }
            }
        };
        let root = self.compile_container(root, &mut Vec::new(), &mut Vec::new())?;
        Ok(PacketDefinition {
            containers: self.compiled,
            root,
            slot_count: self.slot_count,
            enumerations: self.enumerations,
        })
    }

    fn compile_container(
        &mut self,
        model_index: usize,
        path: &mut Vec<PathSlot<'m>>,
        ancestors: &mut Vec<usize>,
    ) -> Result<usize, XtceError> {
        let model = self.model;
        let container = &model.containers[model_index];
        let context = format!("container \"{}\"", container.name);
        if ancestors.contains(&model_index) {
            return Err(XtceError::InvalidDefinition(format!("inheritance cycle through {context}")));
        }
        let path_start = path.len();
        let mut parameters = Vec::new();
        self.flatten_entries(model_index, &mut parameters, &mut Vec::new())?;
        let mut ops = Vec::with_capacity(parameters.len());
        for name in parameters {
            let parameter_type = self.parameter_type(name, &context)?;
            let decode = self.compile_decode(parameter_type, path, &context)?;
            ops.push(FieldOp { slot: path.len(), name: name.to_string(), decode });
            path.push(PathSlot { name, parameter_type });
        }
        self.slot_count = self.slot_count.max(path.len());
        let fields = self.field_plans(path);
        let compiled_index = self.compiled.len();
        self.compiled.push(CompiledContainer {
            name: container.name.clone(),
            is_abstract: container.is_abstract,
            ops,
            inheritors: Vec::new(),
            fields,
        });
        ancestors.push(model_index);
        for (child_index, child) in model.containers.iter().enumerate() {
            if child.base.as_deref() != Some(container.name.as_str()) {
                continue;
            }
            let child_context = format!("container \"{}\"", child.name);
            let criteria = child
                .criteria
                .iter()
                .map(|comparison| self.compile_criterion(comparison, path, &child_context))
                .collect::<Result<Vec<_>, _>>()?;
            let child_compiled = self.compile_container(child_index, path, ancestors)?;
            self.compiled[compiled_index].inheritors.push(Inheritor { container: child_compiled, criteria });
        }
        ancestors.pop();
        path.truncate(path_start);
        Ok(compiled_index)
    }

    /// Parameter names of a container's entry list, with container references expanded.
    fn flatten_entries(&self, index: usize, names: &mut Vec<&'m str>, stack: &mut Vec<usize>) -> Result<(), XtceError> {
        let container = &self.model.containers[index];
        if stack.contains(&index) {
            let problem = format!("container \"{}\" includes itself", container.name);
            return Err(XtceError::InvalidDefinition(problem));
        }
        stack.push(index);
        for entry in &container.entries {
            match entry {
                Entry::Parameter(name) => names.push(name),
                Entry::Container(name) => {
                    let context = || format!("container \"{}\"", container.name);
                    let &referenced = (self.container_index.get(name.as_str()))
                        .ok_or_else(|| unknown("container", name, &context()))?;
                    self.flatten_entries(referenced, names, stack)?;
                }
            }
        }
        stack.pop();
        Ok(())
    }

    fn parameter_type(&self, name: &str, context: &str) -> Result<&'m ParameterType, XtceError> {
        let model = self.model;
        let type_name = (model.parameters.get(name)).ok_or_else(|| unknown("parameter", name, context))?;
        (model.parameter_types.get(type_name)).ok_or_else(|| unknown("parameter type", type_name, context))
    }

    fn compile_decode(
        &mut self,
        parameter_type: &'m ParameterType,
        path: &[PathSlot<'m>],
        context: &str,
    ) -> Result<DecodeOp, XtceError> {
        Ok(match &parameter_type.encoding {
            &Encoding::Integer { bits, signed, little_endian } => {
                let enumeration =
                    parameter_type.enumeration.as_ref().map(|entries| self.enumeration(parameter_type, entries));
                DecodeOp::Integer { bits, signed, little_endian, enumeration }
            }
            &Encoding::Float { bits, format, little_endian } => DecodeOp::Float { bits, format, little_endian },
            Encoding::Binary { size: SizeSpec::Fixed(bits) } => DecodeOp::Binary { size: CompiledSize::Fixed(*bits) },
            Encoding::Binary { size: SizeSpec::Dynamic(dynamic) } => {
                DecodeOp::Binary { size: CompiledSize::Dynamic(self.size_ref(dynamic, path, context)?) }
            }
            Encoding::String { buffer, content, ascii_only } => {
                let buffer = match buffer {
                    StringBuffer::Fixed(bits) => CompiledBuffer::Fixed(*bits),
                    StringBuffer::Dynamic(dynamic) => CompiledBuffer::Dynamic(self.size_ref(dynamic, path, context)?),
                    StringBuffer::LeadingSizeOnly(bits) => CompiledBuffer::LeadingSizeOnly(*bits),
                    StringBuffer::TerminatorOnly { max_bits } => CompiledBuffer::TerminatorOnly { max_bits: *max_bits },
                };
                DecodeOp::String { buffer, content: content.clone(), ascii_only: *ascii_only }
            }
        })
    }

    fn enumeration(&mut self, parameter_type: &'m ParameterType, entries: &[EnumerationEntry]) -> usize {
        let next = self.enumerations.len();
        let index = *self.enumeration_index.entry(parameter_type.name.as_str()).or_insert(next);
        if index == next {
            self.enumerations.push(EnumerationTable::new(entries));
        }
        index
    }

    fn size_ref(&self, dynamic: &DynamicSize, path: &[PathSlot<'m>], context: &str) -> Result<SizeRef, XtceError> {
        let (value, is_label) = resolve_value(&dynamic.parameter, dynamic.use_calibrated, path, context)?;
        if is_label {
            let value = format!("{} (calibrated enumeration)", dynamic.parameter);
            return Err(unsupported_value("size reference", value, context));
        }
        Ok(SizeRef { value, slope: dynamic.slope, intercept: dynamic.intercept })
    }

    fn compile_criterion(
        &self,
        comparison: &ComparisonModel,
        path: &[PathSlot<'m>],
        context: &str,
    ) -> Result<Criterion, XtceError> {
        let (value, is_label) = resolve_value(&comparison.parameter, comparison.use_calibrated, path, context)?;
        let operand = if is_label {
            if !matches!(comparison.op, CompareOp::Equal | CompareOp::NotEqual) {
                let value = format!("{:?} on enumeration label", comparison.op);
                return Err(unsupported_value("comparison", value, context));
            }
            let slot = &path[value.slot];
            let entries = slot.parameter_type.enumeration.as_deref().unwrap_or_default();
            let codes = (0..entries.len() as u32).filter(|&code| entries[code as usize].label == comparison.value);
            Operand::Labels(codes.collect())
        } else if value.kind == RawKind::Float || value.calibrator.is_some() {
            Operand::Number(Number::Float(parse(&comparison.value, "value", context)?))
        } else {
            Operand::Number(Number::Int(parse(&comparison.value, "value", context)?))
        };
        Ok(Criterion { value, op: comparison.op, operand })
    }

    fn field_plans(&self, path: &[PathSlot<'m>]) -> Vec<FieldPlan> {
        let mut fields: Vec<FieldPlan> = Vec::with_capacity(path.len());
        let mut position: HashMap<&str, usize> = HashMap::new();
        for (slot, entry) in path.iter().enumerate() {
            if let Some(&index) = position.get(entry.name) {
                fields[index].slot = slot;
                continue;
            }
            let parameter_type = entry.parameter_type;
            let derived = match (&parameter_type.enumeration, &parameter_type.calibrator) {
                (Some(_), _) => Derived::Label(self.enumeration_index[parameter_type.name.as_str()]),
                (None, Some(polynomial)) => Derived::Calibrated(polynomial.clone()),
                (None, None) => Derived::None,
            };
            position.insert(entry.name, fields.len());
            fields.push(FieldPlan {
                name: entry.name.to_string(),
                slot,
                raw: RawKind::of(&parameter_type.encoding),
                derived,
            });
        }
        fields
    }
}

/// Resolves a reference to the latest earlier field of that name; the flag says the
/// reference is to an enumeration label rather than a number.
fn resolve_value(
    name: &str,
    use_calibrated: bool,
    path: &[PathSlot],
    context: &str,
) -> Result<(ValueRef, bool), XtceError> {
    let slot =
        path.iter().rposition(|entry| entry.name == name).ok_or_else(|| unknown("earlier parameter", name, context))?;
    let parameter_type = path[slot].parameter_type;
    let kind = RawKind::of(&parameter_type.encoding);
    if matches!(kind, RawKind::Bytes | RawKind::Text) {
        let what = "reference to non-numeric parameter";
        return Err(unsupported_value(what, name, context));
    }
    let calibrator = if use_calibrated { parameter_type.calibrator.clone() } else { None };
    let is_label = use_calibrated && parameter_type.enumeration.is_some();
    Ok((ValueRef { slot, kind, calibrator }, is_label))
}
