"""Job files: only well-formed jobs naming files inside the run folder are run."""

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.job import JobError, make_job, parse_job, read_job, write_job


def good_job(**changes):
    job = make_job("content.pam", ["style0.pam"], "result.pam", {"steps": 3}, preview="preview.pam")
    job.update(changes)
    return job


def test_a_written_job_reads_back_with_absolute_paths(tmp_path):
    path = write_job(str(tmp_path), good_job())
    job = read_job(path)
    assert job["content"] == os.path.join(str(tmp_path), "content.pam")
    assert job["styles"] == [os.path.join(str(tmp_path), "style0.pam")]
    assert job["preview"] == {"path": os.path.join(str(tmp_path), "preview.pam"), "every": 10}
    assert job["options"]["steps"] == 3


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"content": "../etc/passwd"}, "inside the run folder"),
        ({"output": "/tmp/elsewhere.pam"}, "inside the run folder"),
        ({"styles": ["..\\up.pam"]}, "inside the run folder"),
        ({"styles": []}, "at least one style"),
        ({"styles": "style0.pam"}, "at least one style"),
        ({"content": 5}, "must be a file name"),
        ({"version": 99}, "protocol version 99"),
        ({"options": {"steps": -1}}, "steps must be at least 1"),
        ({"options": {"style_blend": [1, 2]}}, "style_blend has 2 weights but the job has 1 styles"),
        ({"preview": {"path": "p.pam", "every": 0}}, "preview interval"),
        ({"preview": "yes"}, "preview must be an object"),
    ],
)
def test_bad_jobs_are_refused_in_plain_words(tmp_path, changes, words):
    with pytest.raises(JobError) as error:
        parse_job(json.dumps(good_job(**changes)), str(tmp_path))
    assert words in str(error.value)


def test_not_json_and_missing_files_are_refused(tmp_path):
    with pytest.raises(JobError, match="not valid JSON"):
        parse_job("{nope", str(tmp_path))
    with pytest.raises(JobError, match="Cannot read the job file"):
        read_job(str(tmp_path / "absent.json"))


@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=12,
))
def test_any_json_is_either_a_valid_job_or_a_job_error(value):
    folder = os.path.abspath("run")
    try:
        job = parse_job(json.dumps(value), folder)
    except JobError:
        return
    for path in [job["content"], job["output"]] + job["styles"]:
        assert os.path.dirname(path) == folder


@given(st.text(min_size=1, max_size=20))
def test_file_names_never_escape_the_run_folder(name):
    folder = os.path.abspath("run")
    try:
        job = parse_job(json.dumps(good_job(content=name)), folder)
    except JobError:
        return
    assert os.path.dirname(job["content"]) == folder
