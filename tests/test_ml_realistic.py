"""The realistic generator (no database): real engines, real codecs, labels checked against the audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from relayml import realistic, synth
from relayml.realdata import engines
from relayml.realdata.artifacts import FADE, PACKET
from relayml.realdata.channel import Channel

MS = synth.SAMPLES_PER_MS
EVERY_VARIANT = [
    "glitch:splice", "glitch:dropped_samples", "glitch:stutter", "glitch:click", "glitch:burst",
    "clipping:hard", "clipping:soft", "clipping:asymmetric@post_codec",
    "dropout:zeroed", "dropout:lost_packets", "dropout:concealed", "long_pause",
]  # fmt: skip
CHANNELS = {
    "dry": Channel(seed=1),
    "room tone (hum)": Channel(seed=2, room_tone="hum", room_tone_dbfs=-55),
    "room tone (pink)": Channel(seed=12, room_tone="pink", room_tone_dbfs=-50),
    "reverb": Channel(seed=3, rt60_s=0.4, direct_to_reverb_db=6),
    "white noise at 10 dB": Channel(seed=4, noise="white", snr_db=10),
    "pink noise at 15 dB": Channel(seed=5, noise="pink", snr_db=15),
    "60 Hz hum at 20 dB": Channel(seed=6, noise="hum", snr_db=20, hum_hz=60),
    "an Opus 16 kbps call leg": Channel(seed=7, transport="opus:16"),
    "gain and 8 kHz": Channel(seed=8, peak_dbfs=-18, rate=8000),
    "MP3 32 kbps at 22.05 kHz": Channel(seed=9, delivery="mp3", bitrate_kbps=32, rate=22050),
    "Opus 16 kbps": Channel(seed=10, delivery="opus", bitrate_kbps=16, rate=48000),
    "AAC 64 kbps at 44.1 kHz": Channel(seed=11, delivery="aac", bitrate_kbps=64, rate=44100),
}
LOSSY_STAGES = {"an Opus 16 kbps call leg": "transport"}


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[realistic.RealClip, dict, int]]:
    """One clip per channel, every variant in it; the engines take turns."""
    out = {}
    for index, (name, chan) in enumerate(CHANNELS.items()):
        trace: dict = {}
        plan = realistic.plan_clip(20 + index, wanted=EVERY_VARIANT, chan=chan)
        planned = len(plan.events)
        out[name] = (realistic.make_clip(0, plan=plan, trace=trace), trace, planned)
    return out


def windows_rms(x: np.ndarray, width: int = 4 * MS) -> np.ndarray:
    """RMS of each `width` window (of the whole of `x` when it is shorter: a click lasts 1 ms)."""
    width = max(1, min(width, len(x)))
    x = x[: len(x) - len(x) % width].reshape(-1, width)
    return np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1))


def lossy_from(name: str) -> int:
    """Index of the first stage at which this channel codes the audio lossily (4: never)."""
    chan = CHANNELS[name]
    if chan.transport:
        return realistic.STAGES.index("transport")
    return (
        realistic.STAGES.index("delivery") if chan.delivery not in ("wav", "flac") else len(realistic.STAGES)
    )


@pytest.mark.parametrize("name", CHANNELS)
def test_every_event_survives_the_channel_and_is_labelled(rendered, name):
    clip, _, planned = rendered[name]
    # A cut that happens to join matching points is no glitch: the check drops it at the source.
    # Only a lossy codec may hide an event (a join or a quiet concealed packet under its noise).
    codecs = {"transport"} if CHANNELS[name].transport else set()
    codecs |= {"delivery"} if CHANNELS[name].delivery not in ("wav", "flac") else set()
    assert {x["lost_at"] for x in clip.dropped} <= {"source", *codecs}
    assert all(x["kind"] == "glitch" for x in clip.dropped if x["lost_at"] == "source")
    assert len(clip.labels) + len(clip.dropped) == planned >= 9  # a short voice may not fit all 11
    assert {label.artifact_type for label in clip.labels} == set(synth.ARTIFACT_TYPES)


@pytest.mark.parametrize("stage", realistic.STAGES)
@pytest.mark.parametrize("name", CHANNELS)
def test_after_each_stage_the_audio_differs_from_its_clean_rendering_only_inside_the_labels(
    rendered, name, stage
):
    clip, trace, _ = rendered[name]
    e, r = trace[stage]
    d = (e - r).astype(np.float64)
    chan = CHANNELS[name]
    lossy = realistic.STAGES.index(stage) >= lossy_from(name)
    # The room's reverb smears an event by its impulse response; a codec by a frame or two.
    collar = int(chan.rt60_s * synth.SAMPLE_RATE) + (60 if lossy else 10) * MS
    outside = np.ones(len(d), dtype=bool)
    for _, (start, end) in trace["changed"]:  # a label, or a clipping's whole drive around its label
        outside[max(0, start - collar) : end + collar] = False
    speech_rms = float(np.sqrt(np.mean(r**2)))
    if lossy:  # the two renderings are coded apart: they differ by the codec's own noise, no more
        assert np.sqrt(np.mean(d[outside] ** 2)) < 0.2 * speech_rms
    else:
        assert np.max(np.abs(d[outside])) < 1e-4
    for what, (start, end) in trace["spans"]:
        at_transport = what.startswith("dropout") or what.endswith("@post_codec")
        if what.startswith("long_pause") or (at_transport and realistic.STAGES.index(stage) < 2):
            continue  # pauses are checked below; dropouts and late clipping happen in the transport
        if what.startswith("glitch:stutter"):
            end = start + 4 * MS  # only its joins differ from the clean version: look at the first
        width = min(end - start, 20 * MS)
        peak = float(windows_rms(d[start:end], width).max())
        background = float(np.percentile(windows_rms(d[outside], width), 99))
        assert peak > 2 * background and peak > 0.03 * speech_rms, (what, start / MS)


@pytest.mark.parametrize("name", CHANNELS)
def test_long_pauses_stay_quiet_and_natural_pauses_are_short_and_unlabelled(rendered, name):
    clip, trace, _ = rendered[name]
    frames = 10 * np.log10(windows_rms(clip.audio, 10 * MS) ** 2 + 1e-12)
    pauses = [label for label in clip.labels if label.artifact_type == "long_pause"]
    assert len(pauses) == 1 and pauses[0].end_ms - pauses[0].start_ms >= 900
    inside = frames[pauses[0].start_ms // 10 + 5 : pauses[0].end_ms // 10]
    assert np.median(inside) < np.percentile(frames, 90) - 8  # room tone and noise only, not speech
    assert clip.pauses, "a clip has natural pauses between its sentences"
    for start, end in clip.pauses:
        assert 150 <= end - start <= 600
        assert not any(label.start_ms < end and label.end_ms > start for label in clip.labels)


def spans_of(clip: realistic.RealClip, variant: str) -> list[tuple[int, int]]:
    return [
        (label.start_ms * MS, label.end_ms * MS)
        for label, v in zip(clip.labels, clip.variants, strict=True)
        if v == variant
    ]


def test_on_a_dry_channel_each_variant_has_its_own_signature(rendered):
    clip, trace, _ = rendered["dry"]
    e, r = trace["delivery"]
    ((start, end),) = spans_of(clip, "stutter")
    assert not np.allclose(e[start:end], r[start:end])
    ((start, end),) = spans_of(clip, "zeroed")
    assert np.max(np.abs(e[start:end])) < 1e-4 < np.max(np.abs(r[start:end]))
    ((start, end),) = spans_of(clip, "lost_packets")
    assert start % PACKET == 0 and (end - start) % PACKET == 0  # on the stream's 20 ms grid
    frames = np.abs(e[start:end]).reshape(-1, PACKET).max(axis=1)
    assert frames[0] < 1e-4 and frames[-1] < 1e-4 and np.sum(frames < 1e-4) >= 2
    ((start, end),) = spans_of(clip, "concealed")
    first, second = e[start : start + PACKET], e[start + PACKET : start + 2 * PACKET]
    ratio = float(np.dot(first, second) / np.dot(first, first))
    assert 0.4 < ratio < 0.9 and np.allclose(second, ratio * first, atol=2e-4)  # the same frame, fading
    ((start, end),) = spans_of(clip, "hard")
    top = np.max(np.abs(e[start:end]))
    assert np.sum(np.isclose(np.abs(e[start:end]), top, atol=2e-4)) >= 2 * MS  # flat tops
    at_top = np.flatnonzero(np.isclose(np.abs(e[start:end]), top, atol=2e-4))
    assert at_top[0] < MS and at_top[-1] >= end - start - MS  # the label runs from flat top to flat top
    ((start, end),) = spans_of(clip, "soft")
    crest = lambda x: np.max(np.abs(x)) / np.sqrt(np.mean(x**2))  # noqa: E731
    assert crest(e[start:end]) < 0.8 * crest(r[start:end])  # squashed, without flat tops
    ((start, end),) = spans_of(clip, "asymmetric@post_codec")
    assert abs(np.max(e[start:end]) + np.min(e[start:end])) > 0.1 * np.max(np.abs(e[start:end]))
    for variant in ("splice", "dropped_samples"):
        ((start, end),) = spans_of(clip, variant)
        assert np.max(np.abs(np.diff(e[start:end]))) > 1.2 * np.max(np.abs(np.diff(r[start:end])))


def test_a_stutter_repeats_the_frame_before_it():
    plan = realistic.plan_clip(3, ("flite",), wanted=["glitch:stutter"], chan=Channel(seed=1))
    trace: dict = {}
    clip = realistic.make_clip(0, plan=plan, trace=trace)
    (event,) = plan.events
    frame, repeats = int(event.params["frame"]), int(event.params["repeats"])
    ((_, (start, _)),) = trace["spans"]
    at = start + FADE  # the label opens with the first join's crossfade
    before = clip.audio[at - frame : at]
    for k in range(repeats):
        assert np.allclose(clip.audio[at + k * frame : at + (k + 1) * frame], before, atol=2e-4)


def test_an_event_the_channel_erases_is_dropped_and_leaves_no_trace():
    plan = realistic.plan_clip(
        5, ("espeak",), wanted=["glitch:click", "dropout:zeroed"], chan=Channel(seed=3)
    )
    click = next(event for event in plan.events if event.variant == "click")
    click.params["amplitude"] = 1e-4  # below anything a listener or detector could find
    trace: dict = {}
    clip = realistic.make_clip(0, plan=plan, trace=trace)
    assert [x["variant"] for x in clip.dropped] == ["click"] and clip.dropped[0]["lost_at"] == "source"
    assert [x.artifact_type for x in clip.labels] == ["dropout"]
    e, r = trace["source"]
    assert np.array_equal(e, r)  # rendered again without it: no unlabelled artifact remains


def test_the_same_seed_gives_the_same_file_and_labels_engines_included():
    for seed in (3, 5):  # Piper, then flite; both delivered lossy (odd seeds)
        engines.clear_cache()
        first = realistic.make_clip(seed)
        engines.clear_cache()
        again = realistic.make_clip(seed)
        assert first.suffix in ("mp3", "ogg", "m4a")
        assert first.data == again.data and len(first.data) > 1000
        assert first.labels == again.labels and first.channel == again.channel
    assert realistic.make_clip(6).data != realistic.make_clip(8).data


@pytest.mark.parametrize("engine", engines.ENGINES)
def test_each_engine_renders_every_voice_it_lists(engine):
    voices = engines.ENGINE_VOICES[engine][:4]
    for name in voices:
        (audio,) = engines.render(engines.Voice(engine, name), [realistic.SENTENCES[1]])
        assert audio.dtype == np.float32 and len(audio) % MS == 0
        assert 1.5 < len(audio) / synth.SAMPLE_RATE < 6 and np.max(np.abs(audio)) > 0.1


def test_a_missing_engine_is_named_with_the_command_that_installs_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        engines.EngineMissing, match=r"flite: missing flite; install with `apt-get install flite`"
    ):
        realistic.generate(tmp_path / "out", 1, engine_names=("espeak", "flite"))
    with pytest.raises(ValueError, match="unknown TTS engine 'mbrola'"):
        engines.check_engines(["mbrola"])


def test_the_command_line_writes_a_mixed_set_that_ingests_into_training_files(tmp_path, capsys):
    realistic.main(["--out", str(tmp_path), "--count", "4", "--seed", "40", "--engines", "espeak,flite"])
    records = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert [r["engine"] for r in records] == ["espeak", "flite", "espeak", "flite"]
    assert [r["format"] in ("wav", "flac") for r in records] == [True, False, True, False]
    for record, train_file in zip(records, realistic.train_files(tmp_path, records), strict=True):
        assert record["voice"] in engines.ENGINE_VOICES[record["engine"]]
        assert train_file.group == f"{record['engine']}:{record['voice']}"  # validation holds out voices
        frames = len(np.load(train_file.features_path))
        assert abs(frames * 10 - record["duration_ms"]) < 80  # 10 ms frames; AAC pads its last one
        assert [(x.start_ms, x.end_ms) for x in train_file.events] == [
            (x["start_ms"], x["end_ms"]) for x in record["labels"]
        ]
        for label in record["labels"]:
            assert 0 <= label["start_ms"] < label["end_ms"] <= record["duration_ms"]
            assert label["variant"].split("@")[0] in realistic.artifacts.VARIANTS[label["artifact_type"]]
    assert "engines {'espeak': 2, 'flite': 2}" in capsys.readouterr().out


def test_recorded_people_carry_artifacts_as_the_engines_do_with_exact_labels():
    """The detector's training speech may be a person's (Debian's telephone prompts): their own
    prompts, every variant injected, each label where the audio changed."""
    plan = realistic.plan_clip(5, names=(engines.HUMAN,), wanted=EVERY_VARIANT, chan=CHANNELS["dry"])
    assert plan.voice.engine == engines.HUMAN and plan.voice.name in engines.HUMAN_SPEAKERS
    assert all(text in engines.human_texts(plan.voice.name) for text in plan.texts)
    trace: dict = {}
    clip = realistic.make_clip(0, plan=plan, trace=trace)
    assert clip.engine == engines.HUMAN and len(clip.labels) + len(clip.dropped) == len(plan.events) >= 9
    e, r = trace["delivery"]
    outside = np.ones(len(e), dtype=bool)
    for _, (start, end) in trace["changed"]:  # labels, and clipping's louder drive around its label
        outside[max(0, start - 10 * MS) : end + 10 * MS] = False
    assert np.max(np.abs((e - r)[outside])) < 1e-4  # a dry, lossless channel: changed only inside labels


def test_a_set_is_reused_only_when_made_with_the_same_settings_and_generator(tmp_path):
    from relayml import basemodel

    first = basemodel.generated(tmp_path, 2, 60, ("espeak",))
    written = (tmp_path / first[0].key).stat().st_mtime_ns
    assert basemodel.generated(tmp_path, 2, 60, ("espeak",)) == first
    assert (tmp_path / first[0].key).stat().st_mtime_ns == written  # reused, not made again
    assert realistic.made_with(tmp_path) == realistic.settings(2, 60, ("espeak",), "mix")
    other = basemodel.generated(tmp_path, 2, 60, ("flite",))  # the same clip names, another voice
    assert [Path(f.key).stem for f in other] == [Path(f.key).stem for f in first]
    assert [f.duration_ms for f in other] != [f.duration_ms for f in first]
    for f in other:  # ingested again, not the first set's features
        assert abs(len(np.load(f.features_path)) * 10 - f.duration_ms) < 80
    written = (tmp_path / other[0].key).stat().st_mtime_ns
    settings = tmp_path / realistic.SETTINGS_NAME
    older = json.loads(settings.read_text()) | {"generator": realistic.GENERATOR_VERSION - 1}
    settings.write_text(json.dumps(older))
    basemodel.generated(tmp_path, 2, 60, ("flite",))  # labelled by an older generator: made again
    assert (tmp_path / other[0].key).stat().st_mtime_ns > written
    assert realistic.made_with(tmp_path)["generator"] == realistic.GENERATOR_VERSION
