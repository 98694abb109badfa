"""Judging a soak: growth and slopes after warm-up (`growth_report`), one PASS/FAIL line per
figure (`Verdict`), and the RSS / heap / sessions plot (matplotlib, when installed).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..telemetry.memory import growth_after


@dataclass
class Verdict:
    name: str
    value: float
    limit: float
    unit: str

    @property
    def ok(self) -> bool:
        return self.value <= self.limit

    def line(self) -> str:
        mark = "PASS" if self.ok else "FAIL"
        return f"{mark} {self.name}: {self.value:.3f} {self.unit} (limit {self.limit:g})"


def growth_report(rows: list[dict], warmup_sessions: int, by: str = "sessions_done") -> dict:
    """RSS and heap growth after warm-up, with slopes per session and per hour."""
    xs_sessions = [r["sessions_done"] for r in rows]
    xs_hours = [r["t_s"] / 3600 for r in rows]
    warm_t = next((r["t_s"] for r in rows if r["sessions_done"] >= warmup_sessions), rows[0]["t_s"])
    out = {}
    for key in ("rss_mb", "heap_mb"):
        ys = [r[key] for r in rows]
        g_s = growth_after(xs_sessions, ys, warmup_sessions)
        g_h = growth_after(xs_hours, ys, warm_t / 3600)
        out[key] = {
            "start": g_s.start,
            "end": g_s.end,
            "delta_mb": g_s.delta,
            "kb_per_session": g_s.slope * 1000,
            "mb_per_hour": g_h.slope,
            "mb_per_hour_median": g_h.median_slope,
        }
    return out


def plot(rows: list[dict], path: str, title: str) -> bool:
    """RSS and heap (MB) against sessions and time; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    t = [r["t_s"] / 60 for r in rows]
    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    a.plot(t, [r["rss_mb"] for r in rows], label="RSS MB")
    a.plot(t, [r["heap_mb"] for r in rows], label="malloc in use MB")
    a.set_ylabel("MB")
    a.legend(loc="upper left")
    a.set_title(title)
    b.plot(t, [r["rtsp_sessions"] for r in rows], label="RTSP sessions")
    b.plot(t, [r["fds"] for r in rows], label="fds")
    b.plot(t, [r["threads"] for r in rows], label="threads")
    b2 = b.twinx()
    b2.plot(
        t, [r["sessions_done"] for r in rows], color="tab:gray", alpha=0.4, label="sessions done"
    )
    b2.set_ylabel("sessions done")
    b.set_xlabel("minutes")
    b.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
