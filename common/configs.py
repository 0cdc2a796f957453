"""Frozen-dataclass configs: one list of fields, used generically everywhere.

A week declares its config once, with each field's help text:

    @dataclasses.dataclass(frozen=True)
    class CharRNNConfig:
        units: int = setting(256, "hidden units per layer", positive_int)

and everything else is derived from `dataclasses.fields`: the command-line
flags (`add_config_flags`), the preset with flags laid over it
(`config_from_args`), the dict saved in config.json (`config_to_dict`), the
config read back (`config_from_dict`, where a field added later takes its
default) and the comparison on --resume (`changed_settings`).
"""

import argparse
import dataclasses
import json

from common.cli import UsageError

MISSING = object()


def setting(default, help, type=None, choices=None, before=MISSING):
    """A dataclass field with its command-line help, parser type and choices.

    before: what runs made before the field existed did, where that differs from
    the default. Their config.json lacks the key, and a resume keeps doing what
    they did (mnist's steps_per_execution was 1 and its epochs 421 steps).
    """
    metadata = {"help": help, "type": type, "choices": choices}
    if before is not MISSING:
        metadata["before"] = before
    return dataclasses.field(default=default, metadata=metadata)


def add_config_flags(parser, config_class, presets, only=None):
    """One --flag per field of `config_class` that has help; its help lists the presets' values.

    A bool field becomes --field / --no-field. `only` limits the flags to some fields.
    """
    for field in dataclasses.fields(config_class):
        meta = field.metadata
        if "help" not in meta or (only is not None and field.name not in only):
            continue
        values = ", ".join(f"{name} {getattr(preset, field.name)}"
                           for name, preset in presets.items())
        if meta.get("choices"):
            options = {"choices": meta["choices"]}
        elif field.type in (bool, "bool"):
            options = {"action": argparse.BooleanOptionalAction}
        else:
            options = {"type": meta.get("type")}
        parser.add_argument(f"--{field.name}", default=None,
                            help=f"{meta['help']} (presets: {values})", **options)


def config_from_args(args, presets, preset_name=None, arch_defaults=None, resumed=None):
    """The preset named by --preset, with every config flag the user gave laid over it.

    arch_defaults ({arch: {field: value}}): when --arch names another network
    than the preset's, the fields that network owns (its depth, its widths)
    take its own defaults before the flags are laid over them, since the
    preset's values were chosen for the preset's network (a DenseNet-BC has no
    ResNet-20 depth); the rest of the preset (the recipe) stays. `resumed` is
    the config of the run --resume continues: where its arch is the same, its
    values of those fields stand in for the defaults (config.json is the truth
    on resume; runs made before arch defaults existed kept the preset's). So do its
    values of fields with a `before` (see `setting`): a run made before such a field
    resumes as it was made, not with the new default.
    """
    preset = presets[preset_name or args.preset]
    if resumed is not None:
        preset = dataclasses.replace(preset, **{
            field.name: getattr(resumed, field.name) for field in dataclasses.fields(preset)
            if "before" in field.metadata})
    arch = getattr(args, "arch", None)
    if arch_defaults and arch is not None and arch != preset.arch:
        owned = arch_defaults[arch]
        if resumed is not None and resumed.arch == arch:
            owned = {name: getattr(resumed, name) for name in owned}
        preset = dataclasses.replace(preset, arch=arch, **owned)
    overrides = {field.name: getattr(args, field.name) for field in dataclasses.fields(preset)
                 if getattr(args, field.name, None) is not None}
    return dataclasses.replace(preset, **overrides)


def resumed_config(out_dir, resume, kind, config_class, renamed=None):
    """The config saved in `out_dir` when --resume continues a run there, else None."""
    from common.runs import RunDir  # common.runs reads configs through this module

    run_dir = RunDir(out_dir)
    if not (resume and run_dir.has_run()):
        return None
    return run_dir.read_run_config(kind, config_class, renamed)


def config_to_dict(config):
    """The config as plain JSON values (tuples become lists, as json would make them)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def field_defaults(config_class):
    """{name: the value a config.json without the key stands for}: the field's default,
    or what runs made before the field existed did (setting's `before`)."""
    return {field.name: field.metadata.get("before", field.default)
            for field in dataclasses.fields(config_class)
            if field.default is not dataclasses.MISSING}


def config_from_dict(config_class, saved, renamed=None, where="config.json"):
    """The config saved in a config.json, checked field by field.

    Keys renamed since are read under their old names (`renamed`: old -> new);
    fields that did not exist when the run was made take their defaults (or the
    value such runs had, setting's `before`); keys
    that are not fields (kind, seed, source, provenance) are ignored. A value
    of the wrong type, or one its flag would refuse (a batch size of 0), is a
    UsageError naming `where` and the field: a config.json is read, not trusted.
    """
    saved = upgrade_keys(saved, renamed)
    values = {}
    for field in dataclasses.fields(config_class):
        if field.name not in saved:
            if "before" in field.metadata:
                values[field.name] = field.metadata["before"]
            continue
        value = saved[field.name]
        if isinstance(field.default, tuple) and isinstance(value, list):
            value = tuple(value)
        problem = _field_problem(field, value)
        if problem:
            raise UsageError(f"{where}: {field.name} {value!r} {problem}; the file was "
                             "edited or is damaged. Restore it or retrain")
        values[field.name] = value
    return config_class(**values)


def _field_problem(field, value):
    """Why `value` cannot be this field's, or None."""
    default, meta = field.default, field.metadata
    if default is dataclasses.MISSING or default is None:
        return None  # no type to check against
    if isinstance(default, bool) or isinstance(value, bool):
        return None if type(value) is type(default) else f"is not {type(default).__name__}"
    if isinstance(default, float) and isinstance(value, int):
        value = float(value)
    if not isinstance(value, type(default)):
        return f"is not {type(default).__name__}"
    if meta.get("choices") and value not in meta["choices"]:
        return f"is not one of {', '.join(map(str, meta['choices']))}"
    if meta.get("type") and not isinstance(value, tuple):
        try:
            meta["type"](str(value))  # the flag's own check: range, sign, NaN
        except Exception as error:  # argparse.ArgumentTypeError and others
            return str(error)
    return None


def upgrade_keys(saved, renamed=None):
    """`saved` with keys renamed since it was written under their new names."""
    saved = dict(saved)
    for old, new in (renamed or {}).items():
        if old in saved and new not in saved:
            saved[new] = saved.pop(old)
    return saved


def changed_settings(saved, current, defaults, may_change):
    """[(key, saved value, current value)] for settings a resume may not change.

    A key missing from `saved` (a field added after the run was made) counts
    as its default, so older runs keep resuming.
    """
    changed = []
    current = json.loads(json.dumps(current))
    for key, value in current.items():
        if key in may_change:
            continue
        old = saved.get(key, defaults.get(key, MISSING))
        if old != value:
            changed.append((key, None if old is MISSING else old, value))
    return sorted(changed)
