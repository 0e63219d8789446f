"""`<option><flag ... ="disable">`: which of MuJoCo's disable flags `load_mjcf` applies, ignores or refuses.

Applied (both solvers):
  * `contact`, `filterparent`, `gravity` (as before, in `mjcf`);
  * `constraint`: no constraint at all: no contacts (no candidate pairs), no joint limits, no friction loss;
  * `limit`: joints are unlimited; `frictionloss`: no dof friction-loss rows;
  * `equality`: no equality-constraint rows (`equality.py`; `constraint` disables them too).
Ignored (no effect on what we simulate): `warmstart`
(the Newton solve runs a fixed iteration count from the better of the warm start and the unconstrained
acceleration), `sensor`, `midphase`, `nativeccd`, `island`, `multiccd`, `autoreset`.
Refused with a `ValueError` naming the flag: `spring`, `damper`, `clampctrl`, `actuation`, `eulerdamp`,
`refsafe` (the step would silently differ from MuJoCo's).
"""
from __future__ import annotations

import mujoco

_BIT = mujoco.mjtDisableBit
REFUSED = {
    "spring": (_BIT.mjDSBL_SPRING, "joint springs would still act"),
    "damper": (_BIT.mjDSBL_DAMPER, "joint damping would still act"),
    "clampctrl": (_BIT.mjDSBL_CLAMPCTRL, "controls are always clamped to ctrlrange"),
    "actuation": (_BIT.mjDSBL_ACTUATION, "actuators would still act"),
    "eulerdamp": (_BIT.mjDSBL_EULERDAMP, "the Euler step always integrates joint damping implicitly"),
    "refsafe": (_BIT.mjDSBL_REFSAFE, "solref time constants are always at least 2 timesteps"),
}


def disabled(m, bit) -> bool:
    """Whether `<option><flag>` disables `bit` (a `mujoco.mjtDisableBit`) in the compiled model `m`."""
    return bool(int(m.opt.disableflags) & int(bit))


def check(m) -> None:
    """Refuses disable flags whose effect we do not simulate (module docstring)."""
    for name, (bit, why) in REFUSED.items():
        if disabled(m, bit):
            raise ValueError(f"unsupported MJCF feature: <option><flag> {name}='disable': not implemented ({why}); "
                             f"remove the flag")


def constraints_enabled(m) -> bool:
    return not disabled(m, _BIT.mjDSBL_CONSTRAINT)


def limits_enabled(m) -> bool:
    """Joint limits act (neither `constraint` nor `limit` disabled)."""
    return constraints_enabled(m) and not disabled(m, _BIT.mjDSBL_LIMIT)


def frictionloss_enabled(m) -> bool:
    """Dof friction loss acts (neither `constraint` nor `frictionloss` disabled)."""
    return constraints_enabled(m) and not disabled(m, _BIT.mjDSBL_FRICTIONLOSS)


def equality_enabled(m) -> bool:
    """Equality constraints act (neither `constraint` nor `equality` disabled)."""
    return constraints_enabled(m) and not disabled(m, _BIT.mjDSBL_EQUALITY)
