"""`syncd doctor`: checks a deployment end to end and says what to fix.

`run_doctor(config)` returns a `DoctorReport` (`.ok`, `.to_json()`); the command
prints one line per check. Nothing is written anywhere and no secret is shown.
"""

from syncd.doctor.report import Check, DoctorReport, TenantReport
from syncd.doctor.run import run_doctor

__all__ = ["Check", "DoctorReport", "TenantReport", "run_doctor"]
