"""Local dates: the rules count calendar days in Asia/Shanghai (SPEC §3 rule 2)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()
