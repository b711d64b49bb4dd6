"""The console benchmark's verdict: its targets, and its figures printed against them and
against the minimal Textual app's."""

from __future__ import annotations

import os

import _common

TARGET_IDLE_BPS = 400.0
TARGET_IDLE_CPU_PCT = 0.5
TARGET_IDLE_RSS_MB = 80.0
TARGET_FIRST_FRAME_MS = 600.0
TARGET_KEY_P95_MS = 150.0
TARGET_FLOOD_RSS_MB = 150.0


def report(out: dict) -> None:
    targets = {}
    print(f"console: `synctui --config FILE` in a {out['terminal']} pseudo-terminal"
          f" ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})")
    if "first_frame" in out:
        ff = out["first_frame"]
        s = ff["summary"]
        print(f"\nfirst frame (ms from spawn; {len(ff['rounds'])} rounds):")
        rows = [[f"console #{i + 1}", r["console"]["first_byte_ms"], r["console"]["header_ms"],
                 r["console"]["table_ms"], r["minimal"]["first_byte_ms"], r["minimal"]["label_ms"]]
                for i, r in enumerate(ff["rounds"])]
        rows.append(["median", s["console_first_byte_ms"], s["console_header_ms"],
                     s["console_table_ms"], s["minimal_first_byte_ms"], s["minimal_label_ms"]])
        print(_common.table(["round", "console 1st byte", "'Job' header", "jobs table",
                             "minimal 1st byte", "minimal label"], rows))
        met = s["console_table_ms"] < TARGET_FIRST_FRAME_MS
        targets["first_frame"] = met
        print(f"target: first frame < {TARGET_FIRST_FRAME_MS:g} ms: median"
              f" {s['console_table_ms']:.0f} ms ({s['ratio']:.2f}x the minimal app's"
              f" {s['minimal_label_ms']:.0f} ms) -> {_common.verdict(met)}")
        if ff["bad_exits"]:
            print(f"WARNING: consoles that did not exit 0 on q: {ff['bad_exits']}")
    if "idle" in out:
        idle = out["idle"]
        r = idle["results"]
        print(f"\nidle ({r['console']['wall_s']:.1f}s window; {out['args']['jobs']} jobs every 1h,"
              " nothing fires):")
        print(_common.table(
            ["process", "B/s", "bursts", "CPU % (ticks)", "CPU % (schedstat)", "wake-ups/s",
             "RSS MB", "threads"],
            [[who, x["bytes_per_s"], x["bursts"], x["cpu_pct"], x["cpu_pct_schedstat"],
              x["wakeups_per_s"], x["rss_mb"], x["threads"]] for who, x in r.items()]))
        c, m = r["console"], r["minimal"]
        print("what the console wrote during the window:"
              + ("" if c["what"] else " nothing (the clock and the countdowns change once a"
                 " minute: a 30 s window may miss both; try --seconds 60)"))
        for w in c["what"]:
            print(f"  +{w['t']:6.2f}s {w['bytes']:5d} B  {w['text'][:90]}")
        print("console threads over the window:")
        print(_common.table(["thread", "tid", "CPU ms", "wake-ups/s"],
                            [[t["name"], t["tid"], t["cpu_ms"], t["wakeups_per_s"]]
                             for t in idle["threads"]]))
        for key, value, target, unit, base in (
                ("idle_bytes", c["bytes_per_s"], TARGET_IDLE_BPS, "B/s", m["bytes_per_s"]),
                ("idle_cpu", c["cpu_pct"], TARGET_IDLE_CPU_PCT, "%", m["cpu_pct"]),
                ("idle_rss", c["rss_mb"], TARGET_IDLE_RSS_MB, "MB", m["rss_mb"])):
            targets[key] = value < target
            ratio = f"{value / base:.2f}x" if base else "-"
            print(f"target: idle {key[5:]} < {target:g} {unit}: {value:.3f} (minimal app"
                  f" {base:.3f}, {ratio}) -> {_common.verdict(value < target)}")
        for who, e in idle["exits"].items():
            if e["exit_status"] != 0 or e["killed"]:
                print(f"WARNING: {who} did not exit 0 on q: {e}")
    if "flood" in out:
        f = out["flood"]
        s = f["summary"]
        print(f"\nflood (1,000,000 lines per run, {s['runs_started']} runs started with r;"
              f" median run {s['run_duration_median_s']:.2f}s):")
        print(_common.table(
            ["presses", "n", "p50 ms", "p95 ms", "max ms"],
            [["minimal app (j/k relabel)", len(f["minimal"]["presses"]), s["minimal_frame_p50_ms"],
              s["minimal_frame_p95_ms"], s["minimal_frame_max_ms"]],
             ["console, nothing running", sum(p["phase"] == "quiet" for p in f["presses"]),
              s["quiet_frame_p50_ms"], s["quiet_frame_p95_ms"], s["quiet_frame_max_ms"]],
             ["console, during a flood", s["presses_counted"], s["frame_p50_ms"], s["frame_p95_ms"],
              s["frame_max_ms"]]]))
        print(f"  per quiet press: console {s['quiet_cpu_ms_per_press']:.1f} CPU ms and a"
              f" {s['quiet_frame_bytes_median'] / 1024:.1f} KiB frame; minimal app"
              f" {s['minimal_cpu_ms_per_press']:.1f} CPU ms, {s['minimal_frame_bytes_median']:.0f} B."
              f" During the flood, p50 after j {s['j_frame_p50_ms']:.1f} ms, after k"
              f" {s['k_frame_p50_ms']:.1f} ms")
        print(f"  (of those, the flood still ran when the frame came: "
              f"{s['presses_flood_still_running_at_frame']}; key -> next read of any kind p50"
              f" {s['next_read_p50_ms']:.1f} ms; presses between runs, not counted:"
              f" {s['presses_between_runs']})")
        results = sorted({r["result"] for r in s["runs"]})
        print(f"  flood runs: {len(s['runs'])} recorded, results {', '.join(results)};"
              f" the console {'SHOWED' if s['dropped_events_note_shown'] else 'did not show'}"
              f" its 'events were dropped' note")
        print(f"  console during the flood: {s['cpu_pct_during_flood']:.0f}% CPU,"
              f" {s['bytes_per_s'] / 1024:.0f} KiB/s to the terminal,"
              f" {s['frames_per_s']:.1f} bursts/s; RSS {s['rss_before_mb']:.1f} MB before,"
              f" peak {s['vmhwm_during_flood_mb']:.1f} MB (VmHWM; sampled max"
              f" {s['rss_peak_sampled_mb']:.1f})")
        met = s["frame_p95_ms"] < TARGET_KEY_P95_MS
        targets["key_p95"] = met
        print(f"target: key -> frame p95 < {TARGET_KEY_P95_MS:g} ms while flooding:"
              f" {s['frame_p95_ms']:.1f} ms -> {_common.verdict(met)}")
        met = s["vmhwm_during_flood_mb"] < TARGET_FLOOD_RSS_MB
        targets["flood_rss"] = met
        print(f"target: RSS < {TARGET_FLOOD_RSS_MB:g} MB during the flood:"
              f" {s['vmhwm_during_flood_mb']:.1f} MB -> {_common.verdict(met)}")
        e = f["exit"]
        print(f"quit: q{' + c (it asked)' if e['asked'] else ''} -> exit status"
              f" {e['exit_status']}{' (KILLED: it did not exit within 20 s)' if e['killed'] else ''}")
    out["targets_met"] = targets
