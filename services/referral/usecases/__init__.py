"""Referral's use cases (中心吹哨、部门报到), one module per family over a small shared context:

- :mod:`.context` — the configuration in force, clock, outbox, audit, lookups, loading a case/referral;
- :mod:`.dispatch` — routing, dispatch, the dispatcher's queue, manual dispatch, re-routing;
- :mod:`.department` — a department's actions on its referral (报到, 退回, 延期, 挂起, 答复);
- :mod:`.case_actions` — callback, closure, withdrawal, merge, 信调裁诉, meetings, re-grading, 回退;
- :mod:`.channel_limits` — a channel's own limit (12345 办理时限): its extension answers, merges;
- :mod:`.handling` — the handling deadline as the use cases rewrite it;
- :mod:`.centres` — tiered centres: home centre, 上报, 下派, red cases before the district;
- :mod:`.supervision` — the supervision ladder's application side (督办, 催办, the watchdog's step);
- :mod:`.followups` — follow-ups of closed cases (三色回访);
- :mod:`.schedules` — official holiday schedules loaded at run time;
- :mod:`.worklist` — the centres' worklist (待办);
- :mod:`.wiring` — all of them built over one context (what bootstrap and tests call).
"""
