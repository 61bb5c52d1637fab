"""Typed configuration: dataclasses whose fields are declared :func:`knob`\\ s.

Every command's options are a dataclass, and every field declares its default, its domain
and its help text in one place::

    lr: float = knob(2.5e-4, "> 0", "learning rate")

The same declaration drives

* ``--help`` (help text and domain from the field's metadata; :mod:`.args`),
* command-line parsing (``--ppo.num-envs 8``), for one command and one algorithm at a time,
* strict loading of YAML files (unknown keys and wrong types are errors; :mod:`.values`), and
* :func:`validate`, the one place where values are checked against their domains (the CLI,
  YAML files, PBT and the Python API all go through it).

Why not tyro: tyro renders errors as multi-line panels and has its own YAML story; we want
*one-line* errors (``distillrl train: error: ...``) and exactly the same validation for a YAML
file and for the command line, so this small package does it with argparse.

Live hyper-parameters — the settings a trainer may change mid-run (PBT) — are declared by the
config classes too (``LIVE = ("lr", ...)``, read by :func:`live_knobs`), so they can be listed
and checked without building a trainer.
"""

from distillrl.config.args import OneLineParser, add_dataclass_args, apply_args, die, foreign_options, offered
from distillrl.config.knobs import (
    Domain,
    Live,
    as_domain,
    field_algos,
    field_docs,
    field_domain,
    field_domains,
    field_help,
    knob,
    live_knobs,
    section,
)
from distillrl.config.values import (
    coerce,
    dump_yaml,
    from_dict,
    hints,
    is_numeric,
    is_optional,
    load_yaml,
    renamed,
    to_dict,
    validate,
)
from distillrl.errors import ConfigError

__all__ = ["ConfigError", "Domain", "Live", "OneLineParser", "add_dataclass_args", "apply_args", "as_domain",
           "coerce", "die", "dump_yaml", "field_algos", "field_docs", "field_domain", "field_domains", "field_help",
           "foreign_options", "from_dict", "hints", "is_numeric", "is_optional", "knob", "live_knobs", "load_yaml", "offered",
           "renamed", "section", "to_dict", "validate"]
