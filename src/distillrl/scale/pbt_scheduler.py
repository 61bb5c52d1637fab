"""distillrl's Ray Tune PBT scheduler: the paper's exploit rules (truncation, t-test) and lineage events."""

from __future__ import annotations

import copy
import json
import math
import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from distillrl.core.hparams import canonical
from distillrl.scale import raytune  # noqa: F401  (sets Ray's environment before Ray is imported)
from distillrl.scale.population import PBTConfig, explore, truncation, welch_better


def number_or_none(x: Any) -> float | None:
    """``x`` as a float, or None when it is not a number (NaN included)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def make_scheduler(cfg: PBTConfig, lineage: Path, total_frames: int, all_at_once: bool = False):
    """``all_at_once``: every member has its CPUs at the same time (see ``on_trial_result``); the
    caller passes False for a resumed experiment, whose copies in flight this scheduler never saw."""
    # Ray is heavy (1-2 s to import): only when a population runs; the class is defined here
    # because its base class is Ray's
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining, TrialScheduler

    class DistillRLPBT(PopulationBasedTraining):
        """Ray Tune's PBT with distillrl's decisions (see the module docstring)."""

        def __init__(self):
            o = cfg.pbt
            # hyperparam_mutations is required by Ray and used only for its logging: explore
            # itself is population.explore (bounded by the priors).
            super().__init__(time_attr="frames", metric="return_recent", mode="max",
                             perturbation_interval=o.interval, burn_in_period=o.burn_in,
                             hyperparam_mutations={"hparams": {n: tune.uniform(p.min, p.max)
                                                               for n, p in cfg.priors.items()}},
                             quantile_fraction=min(o.quantile, 0.5), resample_probability=o.resample_probability,
                             perturbation_factors=tuple(o.factors), log_config=False, synch=False)
            self.opts, self.priors = o, cfg.priors
            self.lineage_path = str(lineage)
            self.total_frames = total_frames
            self.rng = np.random.default_rng([o.seed, 11])
            self._decision: dict = {}
            self._waiting: dict = {}
            """recipient trial → its donor, from the exploit until the recipient reports again"""

        # -- records
        def _record(self, event: dict) -> None:
            event = {"time": time.time(), **event}
            with open(self.lineage_path, "a") as f:
                f.write(json.dumps(event) + "\n")
                f.flush()
                os.fsync(f.fileno())

        @staticmethod
        def _member(trial) -> int:
            return int(trial.config["member"])

        def on_trial_result(self, tune_controller, trial, result):
            """Ray's asynchronous PBT pauses a member at its ready point whenever another member is
            pending or paused — there to give a waiting member its turn on busy CPUs. When every
            member has its CPUs at once, nobody waits for a turn: the only pending member is one
            just exploited, restarting on its own freed CPUs, and the pauses cascaded into restarts
            of members that were not copied (in one 4-member run, 14 restarts for 4 exploits, each
            rebuilding a trainer). There a member keeps running unless it is the donor of a copy not
            yet restored: a donor is still paused as before, so it cannot report past the checkpoint
            being copied (Ray keeps only the last few and would delete it under the recipient)."""
            self._waiting.pop(trial, None)  # a recipient that reports again has restored its copy
            decision = super().on_trial_result(tune_controller, trial, result)
            if all_at_once and decision == TrialScheduler.PAUSE and trial not in self._waiting.values():
                return TrialScheduler.CONTINUE
            return decision

        # -- selection
        def _comparable(self, other) -> bool:
            """Can ``other`` be ranked against, or copied from, at this ready point? Not when it has
            finished, and not while it waits to restore a copy it was just given: its last reported
            returns (and score) are those of the state it is about to drop, while its registered
            checkpoint is already its donor's, so a comparison would judge one network and copy
            another."""
            return not other.is_finished() and other not in self._waiting

        def _checkpoint_or_exploit(self, trial, controller, upper, lower):
            """Choose a donor for ``trial`` (or none) and exploit it.

            Ray's version asks upper-quantile trials to save here. A distillrl member reports a
            checkpoint with every ready result, so nothing is saved here: the donor's latest
            registered checkpoint is what is copied, and a member without one is never a donor
            (ray-project/ray#27170)."""
            state = self._trial_state[trial]
            res = state.last_result or {}
            final = bool(res.get("final")) or int(res.get("frames", 0)) >= self.total_frames
            base = {"event": "ready", "frames": int(res.get("frames", 0)), "member": self._member(trial),
                    "score": number_or_none(res.get("return_recent")), "selection": self.opts.selection}
            donor, ev = None, dict(base)
            if final:
                ev["reason"] = "final"
            elif self.opts.selection == "none":  # the matched baseline: nobody copies
                ev["reason"] = "no selection"
            elif self.opts.selection == "truncation":
                # population.truncation (tested alone) over the members' last ready scores
                scores = {t: st.last_score for t, st in self._trial_state.items()
                          if st.last_score is not None and not math.isnan(st.last_score)
                          and (t is trial or self._comparable(t))}
                lower, upper = truncation(scores, self.opts.quantile)
                ev.update(bottom=trial in lower, top=trial in upper)
                if trial in lower:
                    donor = upper[int(self.rng.integers(len(upper)))]
            else:  # ttest: a random other member, copied if significantly better
                others = [t for t in self._trial_state if t is not trial and self._comparable(t)]
                if others:
                    cand = others[int(self.rng.integers(len(others)))]
                    cres = self._trial_state[cand].last_result or {}
                    better, p = welch_better(cres.get("returns", []), res.get("returns", []), self.opts.pvalue)
                    ev.update(candidate=self._member(cand), candidate_score=number_or_none(cres.get("return_recent")),
                              candidate_frames=int(cres.get("frames", 0)), p=number_or_none(p))
                    donor = cand if better else None
                    ev["reason"] = "significantly better" if better else "not better"
                else:
                    ev["reason"] = "no member to compare with"
            if donor is not None and donor.checkpoint is None:
                ev["reason"], donor = "donor has no checkpoint yet", None
            if donor is None:
                self._record({**ev, "decision": "keep"})
                return
            # The donor's latest registered checkpoint can be newer than the result PBT last saved
            # for it (a result inside its perturbation interval, e.g. the first after its own
            # copy, is registered but not saved). Pair the checkpoint with the metrics it was
            # reported with, so the frames recorded (and handed to Ray) are the ones copied.
            got = donor.latest_checkpoint_result
            self._trial_state[donor].last_checkpoint = got.checkpoint
            if got.metrics and "frames" in got.metrics:
                self._trial_state[donor].last_result = dict(got.metrics)
            self._decision = {**ev, "donor": self._member(donor)}
            self._record({**self._decision, "decision": "copy"})
            self._exploit(controller, trial, donor)

        # -- explore
        def _get_new_config(self, trial, trial_to_clone):
            # (an experiment started before a rename holds the old name: read as the prior's)
            donor_vals = {canonical(n, self.priors): float(v) for n, v in trial_to_clone.config["hparams"].items()}
            new_vals, ops = explore(donor_vals, self.priors, self.rng, self.opts.factors,
                                    self.opts.resample_probability)
            new_config = copy.deepcopy(trial.config)  # the recipient keeps its identity and seed
            new_config["hparams"] = new_vals
            # marks the start as an exploit (pbt_member.pending_copy): the donor's checkpoint must
            # win even when it is a copy of the recipient's own older state
            new_config["copy"] = {"id": uuid.uuid4().hex, "donor": self._member(trial_to_clone)}
            self._decision.update({"old": {n: float(v) for n, v in trial.config["hparams"].items()},
                                   "donor_values": donor_vals, "new": new_vals, "ops": ops})
            return new_config, {"hparams": ops}

        def _exploit(self, controller, trial, trial_to_clone):
            self._waiting[trial] = trial_to_clone
            super()._exploit(controller, trial, trial_to_clone)
            d = self._trial_state[trial_to_clone].last_result or {}
            self._record({**self._decision, "event": "exploit", "donor_frames": int(d.get("frames", 0))})
            self._decision = {}

    return DistillRLPBT()
