"""Names of the modules before the restructure into layer packages (0.2.0 → 0.3.0), for reading
what older versions pickled.

distillrl itself never pickles, but Ray Tune does: an experiment folder written before the
restructure holds ``tuner.pkl`` whose pickles name ``distillrl.population.PBTConfig`` and the
like. :func:`legacy_module_names` lets such a pickle load: while it is active, importing an old
module name gives a stand-in whose attributes are read from the module that holds them now.
It is used around Ray Tune's experiment restore only; nothing else imports old names.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Iterator

MOVED: dict[str, str] = {
    'distillrl.hparams': 'distillrl.core.hparams',
    'distillrl.raytune': 'distillrl.scale.raytune',
    'distillrl.population': 'distillrl.scale.population',
    'distillrl.replay': 'distillrl.core.replay',
    'distillrl.returns': 'distillrl.core.returns',
    'distillrl.cluster': 'distillrl.acting.cluster',
    'distillrl.iekd': 'distillrl.terms.iekd',
    'distillrl.curriculum': 'distillrl.terms.curriculum',
    'distillrl.presets': 'distillrl.runs.presets',
    'distillrl.zoo': 'distillrl.teachers.zoo',
    'distillrl.surgery': 'distillrl.terms.surgery',
    'distillrl.fastpolicy': 'distillrl.models.fastpolicy',
    'distillrl.kdcontrols': 'distillrl.terms.kdcontrols',
    'distillrl.envs': 'distillrl.envs.make',
    'distillrl.data': 'distillrl.core.data',
    'distillrl.checkpoint': 'distillrl.core.checkpoint',
    'distillrl.actors': 'distillrl.acting.actors',
    'distillrl.collect': 'distillrl.acting.collect',
    'distillrl.evaluate': 'distillrl.acting.evaluate',
    'distillrl.sweep': 'distillrl.scale.sweep',
    'distillrl.seqdata': 'distillrl.datasets.episodes',
    'distillrl.offline': 'distillrl.datasets.writer',
    'distillrl.schedules': 'distillrl.core.schedules',
    'distillrl.losses': 'distillrl.core.losses',
    'distillrl.rnd': 'distillrl.terms.rnd',
    'distillrl.learner': 'distillrl.core.learner',
    'distillrl.tasks': 'distillrl.envs.tasks',
}
"""Modules that moved whole: old name → new name."""

SPLIT: dict[str, tuple[str, dict[str, str]]] = {
    'distillrl.trainer': ('distillrl.algos.base', {'LossTerm': 'distillrl.core.terms', 'metric_name': 'distillrl.core.terms', 'resume_seed': 'distillrl.core.rng', 'estimate_gae': 'distillrl.core.gae', 'rollout_forward': 'distillrl.models.rollout'}),
    'distillrl.nets': ('distillrl.models.nets', {'Agent': 'distillrl.models.agent', 'AgentOutput': 'distillrl.models.agent', 'param_count': 'distillrl.models.agent', 'acting_param_count': 'distillrl.models.agent'}),
    'distillrl.teachers': ('distillrl.teachers.base', {'SB3Teacher': 'distillrl.teachers.sb3', 'load_sb3_zip': 'distillrl.teachers.sb3', 'CLEANRL_ARCHES': 'distillrl.teachers.cleanrl', 'load_state_dict_teacher': 'distillrl.teachers.cleanrl', 'TeacherSet': 'distillrl.teachers.load', 'load_teacher': 'distillrl.teachers.load', 'load_task_teacher': 'distillrl.teachers.load', 'parse_task_teachers': 'distillrl.teachers.load'}),
    'distillrl.dt': ('distillrl.models.transformer', {'DTTeacher': 'distillrl.teachers.dt', 'dt_env': 'distillrl.teachers.dt', 'load_dt': 'distillrl.teachers.dt', 'is_dt_source': 'distillrl.teachers.dt'}),
    'distillrl.kickstart': ('distillrl.algos.kickstart', {'KickstartTerm': 'distillrl.terms.kickstart'}),
    'distillrl.codistill': ('distillrl.scale.codistill', {'CodistillTerm': 'distillrl.terms.codistill'}),
    'distillrl.jobs': ('distillrl.runs.kinds', {'eval_student': 'distillrl.runs.finish', 'eval_vs_teacher': 'distillrl.runs.finish', 'eval_tasks': 'distillrl.runs.finish', 'RecurrentLogits': 'distillrl.acting.policies', 'teacher_fn': 'distillrl.acting.policies', 'geomean': 'distillrl.core.stats'}),
    'distillrl.run': ('distillrl.runs.rundir', {'drive': 'distillrl.runs.loop'}),
    'distillrl.pbt': ('distillrl.scale.pbt', {'_num': 'distillrl.scale.pbt_scheduler', '_make_scheduler': 'distillrl.scale.pbt_scheduler', 'MEMBER_CKPT': 'distillrl.scale.pbt_member', 'member_dir': 'distillrl.scale.pbt_member', 'tuned': 'distillrl.scale.pbt_member', 'restore_member': 'distillrl.scale.pbt_member', 'apply_hparams': 'distillrl.scale.pbt_member', 'member_trainable': 'distillrl.scale.pbt_member'}),
    'distillrl.report': ('distillrl.report.runs', {'build_report': 'distillrl.report.build', 'build_pbt_report': 'distillrl.report.pbt', 'is_pbt_experiment': 'distillrl.report.pbt', 'winning_lineage': 'distillrl.report.pbt', 'task_section': 'distillrl.report.tasks'}),
    'distillrl.algos.offline': ('distillrl.algos.dt', {'OfflineDistillConfig': 'distillrl.algos.offline_distill', 'OfflineDistillTrainer': 'distillrl.algos.offline_distill', 'student_width': 'distillrl.algos.offline_distill'}),
}
"""Modules split in parts: old name → (the part holding every name not listed, {name: its part})."""


RENAMED: dict[str, str] = {"_num": "number_or_none", "_make_scheduler": "make_scheduler"}
"""Private names that became public when their module was split."""


class _Alias(types.ModuleType):
    """An old module name whose attributes are looked up where they live now."""

    def __init__(self, name: str, home: str, moved: dict[str, str]):
        super().__init__(name)
        self._home, self._moved = home, moved

    def __getattr__(self, attr: str):
        new = RENAMED.get(attr, attr)
        return getattr(importlib.import_module(self._moved.get(attr, self._home)), new)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED or fullname in SPLIT:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        if spec.name in MOVED:
            return importlib.import_module(MOVED[spec.name])
        home, moved = SPLIT[spec.name]
        return _Alias(spec.name, home, moved)

    def exec_module(self, module):
        pass


@contextlib.contextmanager
def legacy_module_names() -> Iterator[None]:
    """While active, the pre-restructure module names import (see the module doc)."""
    finder = _Finder()
    sys.meta_path.append(finder)  # last: a real module of the same name always wins
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in list(MOVED) + list(SPLIT):
            sys.modules.pop(name, None)
