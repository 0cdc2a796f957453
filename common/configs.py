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


def setting(default, help, type=None, choices=None):
    """A dataclass field with its command-line help, parser type and choices."""
    return dataclasses.field(default=default,
                             metadata={"help": help, "type": type, "choices": choices})


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


def config_from_args(args, presets, preset_name=None):
    """The preset named by --preset, with every config flag the user gave laid over it."""
    preset = presets[preset_name or args.preset]
    overrides = {field.name: getattr(args, field.name) for field in dataclasses.fields(preset)
                 if getattr(args, field.name, None) is not None}
    return dataclasses.replace(preset, **overrides)


def config_to_dict(config):
    """The config as plain JSON values (tuples become lists, as json would make them)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def field_defaults(config_class):
    return {field.name: field.default for field in dataclasses.fields(config_class)
            if field.default is not dataclasses.MISSING}


def config_from_dict(config_class, saved, renamed=None, where="config.json"):
    """The config saved in a config.json, checked field by field.

    Keys renamed since are read under their old names (`renamed`: old -> new);
    fields that did not exist when the run was made take their defaults; keys
    that are not fields (kind, seed, source, provenance) are ignored. A value
    of the wrong type, or one its flag would refuse (a batch size of 0), is a
    UsageError naming `where` and the field: a config.json is read, not trusted.
    """
    saved = upgrade_keys(saved, renamed)
    values = {}
    for field in dataclasses.fields(config_class):
        if field.name not in saved:
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
