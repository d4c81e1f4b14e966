"""The printed tables: rows, halves and claims."""

from posedriven.evaluation import tables

_TITLES = {"A": "Pose only", "G": "RGB only + attention", "K": "A + G"}


def _figures(top1):
  return {"top1": top1, "low": top1 - 0.1, "high": top1 + 0.1}


def test_format_table_prints_rows_in_title_order_with_intervals():
  results = {r: {"top1": t, "top5": 1.0, "mean_class": t}
             for r, t in (("K", 0.75), ("A", 0.5))}
  intervals = {"rows": {"A": _figures(0.5)}}
  lines = tables.format_table(results, intervals, _TITLES).splitlines()
  # Header, rule, then A before K (the titles' order); G was not run.
  assert [line.split()[0] for line in lines[2:]] == ["A", "K"]
  assert "Pose only" in lines[2] and "[ 40.0,  60.0]" in lines[2]
  assert lines[2].split()[3] == "50.0"
  # K has no interval: its cell is blank, the other columns stay aligned.
  assert "[" not in lines[3]
  assert len(lines[3]) == len(lines[2])
  assert len(tables.format_table(results, None, _TITLES).splitlines()) == 4


def test_format_interval_is_in_percent():
  assert tables.format_interval({"low": 0.051, "high": 0.9}) == (
      "[  5.1,  90.0]")


def test_format_claims_states_verdict_and_interval():
  intervals = {"claims": [{"claim": "K > A", "verdict": "not significant",
                           "difference": 0.05, "low": -0.02, "high": 0.11,
                           "discordant_clips": 9,
                           "effective_clips_per_seed": 40.2}],
               "num_clips": 144, "num_performances": 48, "num_seeds": 1,
               "unit": "performances"}
  text = tables.format_claims(intervals)
  assert "not significant: K > A" in text
  assert "[ -2.0, +11.0]" in text and "9 discordant" in text
  assert "48 performances" in text


def test_format_halves_prints_each_row_with_its_interval():
  intervals = {"halves": {"motion": {"A": _figures(0.9), "G": _figures(0.4)},
                          "object": {"A": _figures(0.5), "G": _figures(0.7)}}}
  lines = tables.format_halves(intervals, _TITLES).splitlines()
  assert lines[1].split()[:2] == ["A", "90.0"]
  assert "70.0 [ 60.0,  80.0]" in lines[2]
  assert "motion 25%, object 50%" in lines[-1]
  # The order given, not the dict's.
  assert tables.format_halves(intervals, ["G", "A"]).splitlines()[1].split(
      )[0] == "G"
  assert tables.format_halves({}, _TITLES) == ""
