"""Realistic training data: several TTS engines, artifacts made the ways they really happen, a channel.

Each clip: 3–5 sentences from one engine and voice (espeak-ng, flite, festival, Piper) with natural
150–600 ms pauses between them (unlabelled), events injected (`relayml.realdata.artifacts`), then
the room, a transport codec leg and the delivery (`relayml.realdata.channel`). Every event is
checked after every stage (`relayml.realdata.presence`); an event the channel erased is removed and
the clip rendered again without it, so no unlabelled artifact is left in the audio. Labels are the
exact spans the events changed, in integer ms; engine, voice and channel are recorded per clip.

    python -m relayml.realistic --out var/real --count 200 --seed 0 [--engines espeak,flite,festival,piper]
        [--format mix] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch

from relayml import synth
from relayml.events import Event as LabelledEvent
from relayml.ingest import FEATURES_NAME, process
from relayml.realdata import artifacts, channel, engines, presence
from relayml.realdata.artifacts import MS, Event
from relayml.train import TrainFile

SENTENCES = synth.SENTENCES + (
    "Well, let me check that for you, it will only take a moment.",
    "If you have your reference number ready, please say it now.",
    "Sorry, the line is busy at the moment, please try again later.",
    "Your balance is two hundred and six dollars, and your next payment is due on Monday.",
    "To hear these options again, press nine, or simply stay on the line.",
    "We noticed a login from a new device, was that you?",
    "Okay, I have booked a table for four at seven thirty tonight.",
    "Before we continue, could you confirm your date of birth?",
)
STAGES = ("source", "room", "transport", "delivery")
PROBABILITY = {"long_pause": 0.5, "clipping": 0.45, "dropout": 0.45}
MIN_SEPARATION = 400 * MS
EDGE = 80 * MS


@dataclass
class Plan:
    """Everything a clip is made of, drawn from its seed."""

    seed: int
    voice: engines.Voice
    texts: list[str]
    speech: list[np.ndarray]  # unedited sentences, 16 kHz
    gaps: list[int]  # samples: before sentence 0, between sentences, after the last
    long_gap: int  # index into gaps (1..len-2) made long, or -1
    events: list[Event]
    channel: channel.Channel


@dataclass
class RealClip(synth.Clip):
    """A synth.Clip (audio as the platform decodes it, labels) plus how it was made."""

    engine: str = ""
    data: bytes = b""  # the delivered file
    suffix: str = "wav"
    variants: list[str] = field(default_factory=list)  # per label
    pauses: list[tuple[int, int]] = field(default_factory=list)  # unlabelled natural pauses, ms
    channel: dict = field(default_factory=dict)
    dropped: list[dict] = field(default_factory=list)  # events the presence check removed
    measured: list[dict] = field(default_factory=list)  # per label, at delivery


def choose_voice(seed: int, names: tuple[str, ...]) -> tuple[engines.Voice, list[str]]:
    """The clip's engine (round robin over `names`, so a set is balanced), voice and sentences."""
    rng = np.random.default_rng([seed, 0])
    engine = names[seed % len(names)]
    if engine == engines.HUMAN:  # a person: their own prompts, at their own pace
        speaker = str(rng.choice(engines.HUMAN_SPEAKERS))
        said = engines.human_texts(speaker)
        picks = rng.choice(len(said), size=int(rng.integers(3, 6)), replace=False)
        return engines.Voice(engine, speaker), [said[i] for i in picks]
    name = str(rng.choice(engines.ENGINE_VOICES[engine]))
    tempo = float(rng.choice([0.85, 0.95, 1.05, 1.15]))  # few values, so Piper renders in batches
    voice = engines.Voice(engine, name, tempo, int(rng.integers(30, 70)) if engine == "espeak" else 50)
    picks = rng.choice(len(SENTENCES), size=int(rng.integers(3, 6)), replace=False)
    return voice, [SENTENCES[i] for i in picks]


def plan_clip(
    seed: int,
    names: tuple[str, ...] = engines.ENGINES,
    lossy: bool | None = None,
    wanted: list[str] | None = None,
    chan: channel.Channel | None = None,
) -> Plan:
    """A clip's plan. By default its events and channel are drawn from the seed; `wanted` (e.g.
    ["glitch:splice", "clipping:soft@post_codec", "long_pause"]) and `chan` fix them (tests, studies)."""
    voice, texts = choose_voice(seed, names)
    speech = engines.render(voice, texts)
    rng = np.random.default_rng([seed, 1])
    gaps = [artifacts.ms(rng.uniform(150, 600)) for _ in range(len(texts) + 1)]
    pairs = drawn_events(rng) if wanted is None else [(*w.split(":"), "")[:2] for w in wanted]
    long_gap = -1
    if ("long_pause", "") in pairs or (wanted is None and rng.random() < PROBABILITY["long_pause"]):
        long_gap = int(rng.integers(1, len(texts)))
        gaps[long_gap] = artifacts.ms(rng.uniform(900, 2500))
    events = place(rng, speech, [(kind, variant) for kind, variant in pairs if kind != "long_pause"])
    if long_gap > 0:
        events.append(Event("long_pause", "", long_gap - 1))  # its variant is the room tone in it
    needs_transport = any(event.stage == "transport" and event.kind == "clipping" for event in events)
    lossy = seed % 2 == 1 if lossy is None else lossy
    chan = chan or channel.draw_channel(np.random.default_rng([seed, 2]), lossy, needs_transport)
    return Plan(seed, voice, texts, speech, gaps, long_gap, events, chan)


def drawn_events(rng: np.random.Generator) -> list[tuple[str, str]]:
    """The kinds and variants of a clip's events (long pauses are drawn by the plan)."""
    if rng.random() < 0.1:
        return []  # a clean clip: stretches without labels are part of what a detector learns
    kinds = ["glitch"] * int(rng.choice([0, 1, 1, 2]))
    kinds += [kind for kind in ("clipping", "dropout") if rng.random() < PROBABILITY[kind]]
    pairs = [(kind, str(rng.choice(artifacts.VARIANTS[kind]))) for kind in kinds]
    # A third of clipping happens after a codec leg (a hot gain stage at the far end of a call).
    return [(k, v + "@post_codec" if k == "clipping" and rng.random() < 0.35 else v) for k, v in pairs]


def place(rng: np.random.Generator, speech: list[np.ndarray], wanted: list[tuple[str, str]]) -> list[Event]:
    """Events inside speech: ≥ 80 ms from a sentence's edges, ≥ 400 ms apart, one cut per sentence."""
    placed: list[Event] = []
    for kind, variant in wanted:
        event = artifacts.draw(kind, variant.split("@")[0], rng)
        if kind == "clipping":
            event.params["post_codec"] = float(variant.endswith("@post_codec"))
        for _ in range(200):
            index = int(rng.integers(0, len(speech)))
            lo = EDGE + int(event.params.get("frame", 0))
            hi = len(speech[index]) - EDGE - event.length
            same = [other for other in placed if other.sentence == index]
            if hi <= lo or (
                event.variant in artifacts.CUTS and any(o.variant in artifacts.CUTS for o in same)
            ):
                continue
            offset = (
                artifacts.pick_cut(event, speech[index], rng, lo, hi)
                if event.variant in artifacts.CUTS
                else int(rng.integers(lo, hi)) // MS * MS
            )
            if all(abs(offset - o.offset) >= MIN_SEPARATION + max(o.length, event.length) for o in same):
                event.sentence, event.offset = index, offset
                placed.append(event)
                break
    return placed


@dataclass
class Timeline:
    """The assembled clip: both versions per stage, and where everything sits (samples)."""

    e: np.ndarray
    r: np.ndarray
    starts: list[int]  # each sentence's first sample
    speech: list[tuple[int, int]]
    gaps: list[tuple[int, int]]
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)  # event index → label span
    probes: dict[int, tuple[int, int]] = field(default_factory=dict)  # where a cut differs, if not all of it
    # Where an event changed the audio beyond its label: clipping's drive, only louder outside its label.
    changed: dict[int, tuple[int, int]] = field(default_factory=dict)


def assemble(plan: Plan) -> Timeline:
    """Sentences (cut ones hard in `e`, clean in `r`) and pauses, at a common level, digital zero between."""
    scale = 0.5 / max(float(np.max(np.abs(s))) for s in plan.speech)
    cuts = {ev.sentence: i for i, ev in enumerate(plan.events) if ev.variant in artifacts.CUTS}
    parts_e, parts_r, starts, speech, gaps, spans, probes = [], [], [], [], [], {}, {}
    cursor = plan.gaps[0]
    gaps.append((0, cursor))
    parts_e.append(np.zeros(cursor, np.float32))
    parts_r.append(parts_e[-1])
    for index, sentence in enumerate(plan.speech):
        cut = plan.events[cuts[index]] if index in cuts else None
        hard, (a, b), (c, d) = artifacts.edit_sentence(sentence * scale, cut, smooth=False)
        clean, _, _ = artifacts.edit_sentence(sentence * scale, cut, smooth=True)
        if index in cuts:
            spans[cuts[index]] = (cursor + a, cursor + b)
            probes[cuts[index]] = (cursor + c, cursor + d)
        starts.append(cursor)
        speech.append((cursor, cursor + len(hard)))
        cursor += len(hard)
        gap = np.zeros(plan.gaps[index + 1], np.float32)
        gaps.append((cursor, cursor + len(gap)))
        parts_e += [hard, gap]
        parts_r += [clean, gap]
        cursor += len(gap)
    for i, event in enumerate(plan.events):
        if event.kind == "long_pause":
            spans[i] = gaps[plan.long_gap]
    return Timeline(np.concatenate(parts_e), np.concatenate(parts_r), starts, speech, gaps, spans, probes)


def apply_stage(plan: Plan, timeline: Timeline, stage: str) -> None:
    """In-place events of `stage` into `timeline.e` (the reference stays clean)."""
    cuts = {ev.sentence: ev for ev in plan.events if ev.variant in artifacts.CUTS}
    for i, event in enumerate(plan.events):
        if event.stage != stage or event.variant in artifacts.CUTS or event.kind == "long_pause":
            continue
        start = timeline.starts[event.sentence] + artifacts.shift(cuts.get(event.sentence), event.offset)
        timeline.spans[i] = artifacts.overlay(timeline.e, event, start)
        if event.kind == "clipping":
            timeline.changed[i] = (start, start + event.length)


def render(
    plan: Plan, trace: dict | None = None
) -> tuple[RealClip, list[tuple[Event, str, presence.Presence]]]:
    """The clip through every stage, and the events found absent (with the stage that lost them).

    `trace`, if given, receives each stage's (event, reference) audio and the label spans (samples)."""
    t = assemble(plan)
    apply_stage(plan, t, "source")
    chan = plan.channel
    speech_mask = presence.mask_of(len(t.r), t.speech)
    speech_power = float(np.mean(t.r[speech_mask] ** 2))
    spread = int(chan.rt60_s * channel.SAMPLE_RATE) + 8 * MS if chan.rt60_s else 0
    lost: dict[int, tuple[str, presence.Presence]] = {}
    found: dict[int, presence.Presence] = {}
    data = b""
    for stage in STAGES:
        data = advance(stage, plan, t, speech_power) or data
        if trace is not None:
            trace[stage] = (t.e.copy(), t.r.copy())
            described = [(i, plan.events[i].describe()) for i in sorted(t.spans)]
            trace["spans"] = [(what, t.spans[i]) for i, what in described]
            trace["changed"] = [(what, t.changed.get(i, t.spans[i])) for i, what in described]
        indices = [i for i in sorted(t.spans) if i not in lost]
        kinds = [plan.events[i].kind for i in indices]
        verdicts = presence.check_events(
            t.e, t.r, kinds, [t.probes.get(i, t.spans[i]) for i in indices], t.speech, t.gaps, spread
        )
        for i, verdict in zip(indices, verdicts, strict=True):
            found[i] = verdict
            if not verdict.present:
                lost[i] = (stage, verdict)
    clip = finish(plan, t, data, found, set(lost))
    return clip, [(plan.events[i], stage, verdict) for i, (stage, verdict) in lost.items()]


def advance(stage: str, plan: Plan, t: Timeline, speech_power: float) -> bytes:
    """Both versions through one stage (the same draws for each); the delivered file at the last."""
    chan = plan.channel
    if stage == "room":
        t.e, t.r = channel.room(t.e, chan, speech_power), channel.room(t.r, chan, speech_power)
    elif stage == "transport":
        if chan.transport:
            t.e, t.r = channel.codec_leg(t.e, chan.transport), channel.codec_leg(t.r, chan.transport)
        apply_stage(plan, t, "transport")
    elif stage == "delivery":
        gain = 10 ** (chan.peak_dbfs / 20) / max(float(np.max(np.abs(t.e))), 1e-6)
        data, t.e = channel.deliver(t.e, chan, gain)
        _, t.r = channel.deliver(t.r, chan, gain)
        return data
    return b""


def finish(plan: Plan, t: Timeline, data: bytes, found: dict, lost: set[int]) -> RealClip:
    keep = sorted((i for i in t.spans if i not in lost), key=lambda i: t.spans[i][0])
    labels = [synth.Label(plan.events[i].kind, t.spans[i][0] // MS, -(-t.spans[i][1] // MS)) for i in keep]
    long_span = t.gaps[plan.long_gap] if plan.long_gap > 0 else None
    inner = t.gaps[1:-1]
    return RealClip(
        audio=t.e,
        labels=labels,
        voice=plan.voice.name,
        text=" ".join(plan.texts),
        engine=plan.voice.engine,
        data=data,
        suffix=channel.suffix(plan.channel),
        variants=[variant_of(plan, plan.events[i]) for i in keep],
        pauses=[(a // MS, b // MS) for a, b in inner if (a, b) != long_span],
        channel=plan.channel.to_dict(),
        measured=[found[i].to_dict() for i in keep],
    )


def variant_of(plan: Plan, event: Event) -> str:
    """The manifest's variant: a long pause's is the room tone filling it (silence, hiss, pink, hum)."""
    return plan.channel.room_tone if event.kind == "long_pause" else event.describe().split(":", 1)[1]


def make_clip(
    seed: int,
    engine_names: tuple[str, ...] = engines.ENGINES,
    lossy: bool | None = None,
    plan: Plan | None = None,
    trace: dict | None = None,
) -> RealClip:
    """One clip whose every label was measured present after the channel (absent events removed)."""
    plan = plan or plan_clip(seed, engine_names, lossy)
    dropped: list[dict] = []
    while True:
        clip, lost = render(plan, trace)
        clip.dropped = dropped
        if not lost:
            return clip
        for event, stage, verdict in lost:
            what = {"kind": event.kind, "variant": variant_of(plan, event), "lost_at": stage}
            dropped.append(what | verdict.to_dict())
        gone = {id(event) for event, _, _ in lost}
        plan.events = [event for event in plan.events if id(event) not in gone]
        if any(event.kind == "long_pause" for event, _, _ in lost):
            plan.gaps[plan.long_gap] = 600 * MS  # now the longest natural pause
            plan.long_gap = -1


def record(clip: RealClip, name: str, seed: int) -> dict:
    """A manifest line."""
    labels = [
        {"artifact_type": x.artifact_type, "start_ms": x.start_ms, "end_ms": x.end_ms, "variant": v} | m
        for x, v, m in zip(clip.labels, clip.variants, clip.measured, strict=True)
    ]
    chan = clip.channel
    return {
        "file": name, "seed": seed, "engine": clip.engine, "voice": clip.voice, "text": clip.text,
        "duration_ms": clip.duration_ms, "format": chan["delivery"], "rate": chan["rate"],
        "bitrate_kbps": chan["bitrate_kbps"], "labels": labels, "natural_pauses_ms": clip.pauses,
        "channel": chan, "dropped": clip.dropped,
    }  # fmt: skip


def generate(
    out: Path,
    count: int,
    seed: int = 0,
    engine_names: tuple[str, ...] = engines.ENGINES,
    fmt: str = "mix",
    workers: int = 1,
) -> list[dict]:
    """`count` clips written to `out` with `manifest.jsonl`; returns the manifest's records.

    With `workers` > 1 clips are made in forked processes; each clip depends on its seed alone, so
    the files are the same bytes whatever the number of workers."""
    engines.check_engines(engine_names)
    out.mkdir(parents=True, exist_ok=True)
    (out / SETTINGS_NAME).unlink(missing_ok=True)  # written last: a set cut short is not reused
    shutil.rmtree(out / INGESTED, ignore_errors=True)  # an earlier set's features (train_files)
    seeds = range(seed, seed + count)
    # One torch thread whatever `workers` is: float sums in another order change a sample's last bit,
    # which a lossy encoder turns into other bytes. (It also leaves no OpenMP pool to break on fork.)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        records = write_set(out, seeds, engine_names, fmt, workers)
    finally:
        torch.set_num_threads(threads)
    (out / SETTINGS_NAME).write_text(json.dumps(settings(count, seed, engine_names, fmt)) + "\n")
    return records


SETTINGS_NAME = "settings.json"
INGESTED = "ingested"  # train_files' feature cache, one folder per clip
# Raised when the same seed would give other files or labels: 2, clipping labelled where it clipped.
GENERATOR_VERSION = 2


def settings(count: int, seed: int, engine_names: tuple[str, ...], fmt: str) -> dict:
    """What a written set was made with (its folder's settings.json)."""
    return {"generator": GENERATOR_VERSION, "count": count, "seed": seed, "engines": list(engine_names),
            "format": fmt}  # fmt: skip


def made_with(folder: Path) -> dict | None:
    """The settings of the complete set in `folder`, or None."""
    path = folder / SETTINGS_NAME
    return json.loads(path.read_text()) if path.exists() else None


def write_set(out: Path, seeds: range, engine_names: tuple[str, ...], fmt: str, workers: int) -> list[dict]:
    prefetch(seeds, engine_names)
    job = partial(build, engine_names=engine_names, fmt=fmt)
    records = []
    with (out / "manifest.jsonl").open("w") as manifest, ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(multiprocessing.get_context("fork").Pool(workers))
            results: Iterator[tuple[str, bytes, dict]] = pool.imap(job, seeds)
        else:
            results = map(job, seeds)
        for name, data, line in results:
            (out / name).write_bytes(data)
            records.append(line)
            manifest.write(json.dumps(line) + "\n")
    return records


def build(seed: int, engine_names: tuple[str, ...], fmt: str) -> tuple[str, bytes, dict]:
    """One clip of a set: its file name, bytes and manifest line."""
    plan = plan_clip(seed, engine_names, None if fmt == "mix" else fmt != "lossless")
    if fmt not in ("mix", "lossless", "lossy"):
        plan.channel = channel.with_format(plan.channel, fmt, np.random.default_rng([seed, 3]))
    clip = make_clip(seed, plan=plan)
    name = f"clip_{seed:05d}.{clip.suffix}"
    return name, clip.data, record(clip, name, seed)


def train_files(folder: Path, records: list[dict]) -> list[TrainFile]:
    """A written set ingested as uploads are (features cached beside each file): TrainFiles for
    relayml.train, keyed by file name; `records` (from `generate` or manifest.jsonl) say which."""
    out = []
    for line in records:
        ingested = folder / INGESTED / Path(line["file"]).stem
        if not (ingested / FEATURES_NAME).exists():
            process(folder / line["file"], ingested)
        events = [LabelledEvent(x["artifact_type"], x["start_ms"], x["end_ms"]) for x in line["labels"]]
        voice = f"{line['engine']}:{line['voice']}"
        out.append(TrainFile(line["file"], str(ingested / FEATURES_NAME), events, line["duration_ms"], voice))
    return out


def prefetch(seeds: range, engine_names: tuple[str, ...]) -> None:
    """Render every sentence a set needs, one engine process per voice (Piper loads its model once)."""
    wanted: dict[engines.Voice, list[str]] = {}
    for s in seeds:
        voice, texts = choose_voice(s, engine_names)
        wanted.setdefault(voice, []).extend(texts)
    for voice, texts in wanted.items():
        engines.render(voice, texts)


def summary(records: list[dict]) -> str:
    engines_used = Counter(r["engine"] for r in records)
    labels = Counter(x["artifact_type"] for r in records for x in r["labels"])
    dropped = Counter(f"{x['kind']}:{x['variant']}@{x['lost_at']}" for r in records for x in r["dropped"])
    return (
        f"engines {dict(engines_used)}\nlabels {dict(labels)}\n"
        f"dropped by the presence check {dict(sorted(dropped.items()))}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engines", default=",".join(engines.ENGINES), help="comma-separated subset")
    parser.add_argument("--workers", type=int, default=1, help="processes (the files do not depend on it)")
    parser.add_argument(
        "--format", default="mix", choices=["mix", "lossless", "lossy", "wav", "flac", "mp3", "opus", "aac"],
        help="mix: half lossless (WAV/FLAC), half lossy (MP3/Opus/AAC)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    names = tuple(name.strip() for name in args.engines.split(",") if name.strip())
    began = time.monotonic()
    records = generate(args.out, args.count, args.seed, names, args.format, args.workers)
    print(f"wrote {len(records)} clips and manifest.jsonl to {args.out} in {time.monotonic() - began:.0f} s")
    print(summary(records))


if __name__ == "__main__":
    main()
