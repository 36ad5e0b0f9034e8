"""Event lines and PAM pixel files: both sides must read what the other wrote."""

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.events import ProtocolError, decode_event, describe_progress, encode_event, format_duration
from protocol.pam import PamError, PamImage, decode_pam, encode_pam, read_pam, write_pam_atomically


def test_events_round_trip_as_single_lines():
    line = encode_event("progress", step=3, total=10, scale=1, scales=2,
                        losses={"content": 1.0, "style": 2.0, "tv": 0.0, "total": 3.0},
                        elapsed=1.5, eta=3.5)
    assert "\n" not in line
    event = decode_event(line)
    assert event["event"] == "progress" and event["step"] == 3
    assert describe_progress(event) == "Step 3/10, scale 1/2, about 4 s left"


def test_events_missing_fields_or_unknown_are_refused():
    with pytest.raises(ProtocolError):
        encode_event("done", output="x")
    with pytest.raises(ProtocolError):
        encode_event("error", message="m", kind="bogus")
    with pytest.raises(ProtocolError):
        decode_event('{"event": "done"}')
    with pytest.raises(ProtocolError):
        decode_event("Traceback (most recent call last):")
    with pytest.raises(ProtocolError):
        decode_event("[1, 2]")


def test_non_finite_numbers_never_reach_the_wire():
    with pytest.raises(ValueError):
        encode_event("done", output="x", elapsed=float("nan"))


@given(st.text(max_size=60))
def test_decoding_any_line_gives_an_event_or_a_protocol_error(line):
    try:
        event = decode_event(line)
    except ProtocolError:
        return
    assert isinstance(event, dict)


def test_durations_read_naturally():
    assert format_duration(5) == "5 s"
    assert format_duration(125) == "2 min 5 s"
    assert format_duration(7300) == "2 h 1 min"


@given(st.integers(1, 5), st.integers(1, 5), st.sampled_from([1, 2, 3, 4]), st.sampled_from([8, 16]),
       st.data())
def test_pam_round_trips_every_sample(width, height, channels, bits, data):
    size = width * height * channels * bits // 8
    samples = data.draw(st.binary(min_size=size, max_size=size))
    image = decode_pam(encode_pam(PamImage(width, height, channels, bits, samples)))
    assert (image.width, image.height, image.channels, image.bits) == (width, height, channels, bits)
    assert image.data == samples


def test_pam_refuses_other_files_and_wrong_sizes():
    with pytest.raises(PamError):
        decode_pam(b"\x89PNG\r\n")
    with pytest.raises(PamError):
        decode_pam(b"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 3\nMAXVAL 255\nENDHDR\n" + b"\0" * 5)
    with pytest.raises(PamError):
        PamImage(2, 2, 3, 8, b"\0")


def test_atomic_write_leaves_no_partial_file_when_writing_fails(tmp_path, monkeypatch):
    target = str(tmp_path / "out.pam")
    image = PamImage(1, 1, 3, 8, b"abc")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_pam_atomically(target, image)
    assert os.listdir(str(tmp_path)) == []
    monkeypatch.undo()
    write_pam_atomically(target, image)
    assert read_pam(target).data == b"abc"
    assert json.loads(encode_event("done", output=target, elapsed=1.0))["output"] == target
