"""Speech recognition and the script check (relayml.speech, relayml.script_check) on real audio."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from relayml import script_check, speech
from relayml.realdata import engines, script_faults
from relayml.speech import Word
from relayml.synth import SENTENCES

SCRIPT = [
    "Your appointment is on Tuesday at 3:15 pm with Dr. Smith.",
    "Please bring your insurance card and arrive ten minutes early.",
]


def heard(*items: tuple[str, int, int]) -> list[Word]:
    return [Word(word, start, end, 0.9) for word, start, end in items]


def kinds(result) -> list[tuple[str, str, str]]:
    return [(f["artifact_type"], f["details"]["expected"], f["details"]["heard"]) for f in result.findings]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech-models")


@pytest.fixture(scope="module")
def piper_speech() -> np.ndarray:
    """The two script sentences spoken by Piper, one second of silence between."""
    parts = engines.render(engines.Voice("piper", "en_US-joe-medium"), SCRIPT)
    return np.concatenate([parts[0], np.zeros(16_000, np.float32), parts[1]])


def test_spelling_number_time_and_abbreviation_variants_are_not_findings():
    said = heard(
        ("Doctor", 0, 300), ("Smith", 300, 600), ("arrives", 600, 900), ("at", 900, 1000),
        ("three", 1000, 1200), ("fifteen", 1200, 1500), ("p.m.", 1500, 1800), ("and", 1800, 1900),
        ("pays", 1900, 2100), ("twenty-five", 2100, 2500), ("dollars.", 2500, 2900),
    )  # fmt: skip
    result = script_check.check("Dr. Smith arrives at 3:15 PM and pays $25.", said, "en", 3000)
    assert result.findings == [] and result.wer == 0.0 and result.cer == 0.0


def test_homophones_are_not_findings_but_other_words_are():
    said = heard(
        ("their", 0, 200), ("office", 200, 500), ("is", 500, 600), ("over", 600, 800), ("here", 800, 1000)
    )
    result = script_check.check("there office is over there", said, "en", 1000)
    assert kinds(result) == [("mispronunciation", "there", "here")]
    assert result.findings[0]["start_ms"] == 800 and result.findings[0]["end_ms"] == 1000
    assert result.wer == pytest.approx(1 / 5)


def test_missing_extra_and_substituted_words_are_found_where_they_happened():
    said = heard(
        ("Please", 0, 300), ("bring", 300, 600), ("your", 600, 800), ("blue", 800, 1000),
        ("card", 1000, 1300), ("and", 2000, 2100), ("arrive", 2100, 2500), ("late", 2500, 2900),
    )  # fmt: skip
    result = script_check.check("Please bring your card today and arrive early.", said, "en", 3000)
    assert kinds(result) == [
        ("hallucination", "", "blue"),
        ("omission", "today", ""),
        ("mispronunciation", "early", "late"),
    ]
    inserted, omitted, swapped = result.findings
    assert (inserted["start_ms"], inserted["end_ms"]) == (800, 1000)
    assert (omitted["start_ms"], omitted["end_ms"]) == (1300, 2000)  # the gap where it should be
    assert (swapped["start_ms"], swapped["end_ms"]) == (2500, 2900)
    assert all(f["source"] == "transcript" and 0 <= f["confidence"] <= 1 for f in result.findings)
    assert result.wer == pytest.approx(3 / 8) and 0 < result.cer < 1


def test_added_words_beside_a_word_heard_alike_are_the_addition_alone():
    """Heard "breakfast end, of course, late": the words added are "of course", and "end" is the
    script's "and" heard alike, not "and" heard as "course" beside an added "end, of"."""
    said = heard(
        ("free", 0, 300), ("breakfast", 300, 800), ("end,", 800, 1000), ("of", 1000, 1100),
        ("course,", 1100, 1500), ("late", 1500, 1800), ("checkout", 1800, 2300),
    )  # fmt: skip
    result = script_check.check("free breakfast and late checkout", said, "en", 2500)
    assert kinds(result) == [("hallucination", "", "of course,")]
    assert (result.findings[0]["start_ms"], result.findings[0]["end_ms"]) == (1000, 1500)
    yarn = heard(
        ("and", 0, 200), ("yarn,", 200, 500), ("of", 500, 600), ("course,", 600, 900), ("fruit", 900, 1200)
    )
    found = script_check.check("and young fruit", yarn, "en", 1300)
    assert kinds(found) == [("mispronunciation", "young", "yarn,"), ("hallucination", "", "of course,")]
    # The same on the other side: script words missing beside one heard alike.
    short = heard(("free", 0, 300), ("breakfast", 300, 800), ("end", 800, 1000), ("checkout", 1400, 1900))
    missing = script_check.check("free breakfast and a late checkout", short, "en", 2000)
    assert kinds(missing) == [("omission", "a late", "")]
    assert (missing.findings[0]["start_ms"], missing.findings[0]["end_ms"]) == (1000, 1400)


def test_only_findings_a_second_hearing_repeats_stand_and_the_wer_counts_only_them():
    first = heard(
        ("Your", 0, 200), ("refund", 200, 500), ("on", 500, 600), ("twenty", 600, 900),
        ("dollars", 900, 1300), ("came", 1300, 1600), ("late", 1600, 1900),
    )  # fmt: skip
    script = "Your refund of twenty dollars came early."
    assert [k[:2] for k in kinds(script_check.check(script, first, "en", 2000))] == [
        ("mispronunciation", "of"),
        ("mispronunciation", "early"),
    ]
    primed = first[:2] + heard(("of", 500, 600)) + first[3:]  # told the script, it heard "of"
    result = script_check.check(script, first, "en", 2000, primed)
    assert kinds(result) == [("mispronunciation", "early", "late")]
    assert result.wer == pytest.approx(1 / len(script_check.keys(script, "en")), abs=1e-4)
    swapped = result.findings[0]
    assert script_check.agrees(swapped, {**swapped, "start_ms": swapped["start_ms"] + 250})
    assert not script_check.agrees(swapped, {**swapped, "artifact_type": "omission"})  # another kind


def test_the_second_hearings_prompt_is_the_script_around_the_utterances_own_words():
    said = heard(("Please", 0, 300), ("bring", 300, 600), ("your", 600, 800), ("card", 800, 1000),
                 ("and", 3000, 3100), ("arrive", 3100, 3500), ("late", 3500, 3900))  # fmt: skip
    script = "so then we will now please bring your card and arrive early"
    assert script_check.script_for(script, said, "en", 2900, 4000) == "bring your card and arrive early"
    assert (
        script_check.script_for(script, said, "en", 0, 1200)
        == "we will now please bring your card and arrive early"
    )


def test_nothing_heard_omits_the_whole_script_and_no_script_makes_everything_extra():
    nothing = script_check.check("Hello there.", [], "en", 2000)
    assert kinds(nothing) == [("omission", "hello there", "")] and nothing.wer == 1.0
    extra = script_check.check("", heard(("hello", 0, 400)), "en", 2000)
    assert kinds(extra) == [("hallucination", "", "hello")]


def test_piper_speech_is_heard_with_word_times_and_its_own_script_passes(piper_speech, cache):
    recogniser = speech.Recogniser(speech.TINY_EN, cache)
    transcript = recogniser.hear(piper_speech)
    duration = len(piper_speech) * 1000 // 16_000
    assert "appointment" in transcript.text.lower() and "insurance" in transcript.text.lower()
    assert transcript.language == "en" and len(transcript.utterances) == 2  # the pause splits them
    starts = [w.start_ms for w in transcript.words]
    assert starts == sorted(starts) and all(
        0 <= w.start_ms < w.end_ms <= duration + 50 for w in transcript.words
    )
    first, second = transcript.utterances
    assert first.end_ms <= second.start_ms and second.start_ms > 3000
    # The script the audio was made from passes; one the audio does not follow does not.
    faithful = script_check.check(" ".join(SCRIPT), transcript.words, "en", duration)
    assert faithful.findings == [] or all(f["confidence"] < 0.9 for f in faithful.findings)
    changed = " ".join(SCRIPT).replace("Tuesday", "Wednesday").replace("early.", "early today.")
    found = script_check.check(changed, transcript.words, "en", duration)
    assert ("mispronunciation", "wednesday", "Tuesday") in kinds(found)
    assert ("omission", "today", "") in kinds(found)


def espeak(text: str, voice: str) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    audio, rate = engines.read_wav(wav)
    return engines.to_16k(audio, rate)


def test_the_multilingual_model_tells_the_language_of_each_utterance(cache):
    english = espeak("Good morning, your order has shipped and will arrive on Friday.", "en-us")
    spanish = espeak("Buenos días, su pedido ha sido enviado y llegará el viernes.", "es")
    audio = np.concatenate([english, np.zeros(16_000, np.float32), spanish])
    transcript = speech.Recogniser(speech.BASE, cache).hear(audio)
    assert [u.language for u in transcript.utterances] == ["en", "es"]
    for u in transcript.utterances:
        assert max(u.language_probs.values()) == u.language_probs[u.language] > 0.5
        assert sum(u.language_probs.values()) <= 1.0001
    assert set(transcript.language_probs) >= {"en", "es"}


def test_weights_that_are_not_the_pinned_bytes_are_refused(cache, tmp_path):
    speech.model_dir(speech.BASE, cache)  # assembled and checked once
    forged = tmp_path / speech.BASE
    shutil.copytree(cache / speech.BASE, forged)
    with open(forged / "model.bin", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(speech.SpeechModelError, match="sha256"):
        speech.model_dir(speech.BASE, tmp_path)
    with pytest.raises(speech.SpeechModelError, match="Unknown speech model"):
        speech.model_dir("whisper-huge", tmp_path)


@pytest.mark.parametrize(
    ("engine", "voice", "sentence", "model"),
    [
        ("piper", "en_US-joe-medium", 3, speech.TINY_EN),
        ("piper", "en_US-joe-medium", 3, speech.BASE),
        ("espeak", "en-us", 0, speech.TINY_EN),
        ("espeak", "en-us", 3, speech.BASE),
    ],
)
def test_a_faithful_render_has_no_findings_and_each_faulty_one_exactly_its_own(
    engine, voice, sentence, model, cache
):
    """Rendered once as written and once per fault (a word swapped, a phrase added, a word dropped),
    with the fault's time known exactly (relayml.realdata.script_faults), heard, and heard again where
    it differs from the script, as the worker does. These sentences are ones the recogniser hears
    right; how often that holds over many is bench/script_check.py's to say."""
    text = SENTENCES[sentence]
    renders = [
        script_faults.render(text, engines.Voice(engine, voice), fault, np.random.default_rng(sentence))
        for fault in script_faults.FAULTS
    ]
    recogniser = speech.Recogniser(model, cache)
    heard = recogniser.hear_many([r.audio for r in renders])
    for r, transcript in zip(renders, heard, strict=True):
        primed = script_check.second_hearings(recogniser, [(r.audio, transcript, r.script, r.duration_ms)])[0]
        # tiny.en hears each fault again, where it is; whisper-base's findings stand on one hearing.
        assert (primed is not None or r.fault == "faithful") if recogniser.confirms else primed is None
        language = transcript.language
        findings = script_check.check(r.script, transcript.words, language, r.duration_ms, primed).findings
        assert len(findings) == len(r.truths), (r.fault, r.said, transcript.text, findings)
        for found, truth in zip(findings, r.truths, strict=True):
            assert found["artifact_type"] == truth.artifact_type
            assert (
                abs(found["start_ms"] - truth.start_ms) <= 300 and abs(found["end_ms"] - truth.end_ms) <= 300
            )
            assert found["details"]["expected"] == truth.expected


def test_a_robotic_voices_misheard_word_is_no_finding_once_heard_again_with_the_script(cache):
    """espeak-ng's "of" is heard as "on" by tiny.en (one of the false findings on
    bench/script_check.py's faithful renders); told what the script says there, it hears "of"."""
    text = "Please confirm your date of birth to continue with the payment."
    audio = engines.render(engines.Voice("espeak", "en-us"), [text])[0]
    recogniser = speech.Recogniser(speech.TINY_EN, cache)
    transcript = recogniser.hear(audio)
    duration = len(audio) * 1000 // 16_000
    assert script_check.check(text, transcript.words, "en", duration).findings  # the first hearing's
    primed = script_check.second_hearings(recogniser, [(audio, transcript, text, duration)])[0]
    assert (
        primed is not None
        and script_check.check(text, transcript.words, "en", duration, primed).findings == []
    )


def test_a_second_hearing_times_its_words_inside_its_span_and_hears_no_trailing_silence(cache):
    """The primed hearing encodes its span alone (Recogniser.primed): its words are the render's, at
    file times inside the span, and the two seconds of silence after the speech add no word (heard
    again from the last word's end, as faster-whisper's loop did, they could)."""
    text = "The doctor will call you back before the end of the day."
    speech_part = engines.render(engines.Voice("espeak", "en-us"), [text])[0]
    lead = np.zeros(16_000 * 3, np.float32)
    audio = np.concatenate([lead, speech_part, np.zeros(16_000 * 2, np.float32)])
    start_ms, end_ms = 2_850, len(audio) * 1000 // 16_000  # voice activity pads speech by 150 ms
    words = speech.Recogniser(speech.TINY_EN, cache).primed(audio, start_ms, end_ms, text, "en")
    said = [w.word.strip(".,").lower() for w in words]
    assert said == text.rstrip(".").lower().split(), said
    speech_end_ms = 3_000 + len(speech_part) * 1000 // 16_000
    assert all(start_ms <= w.start_ms < w.end_ms <= speech_end_ms + 300 for w in words), words
    assert all(0 < w.probability <= 1 for w in words)


def test_a_stereo_calls_sides_are_its_speakers_and_stereo_tts_is_one_voice(piper_speech, cache, tmp_path):
    import soundfile as sf

    agent, customer = engines.render(engines.Voice("piper", "en_US-joe-medium"), SCRIPT)
    quiet = np.zeros(16_000, np.float32)
    left = np.concatenate([agent, quiet, np.zeros_like(customer)])
    right = np.concatenate([np.zeros_like(agent), quiet, customer])
    call = tmp_path / "call.wav"
    sf.write(call, np.stack([left, right], axis=1), 16_000)
    recogniser = speech.Recogniser(speech.TINY_EN, cache)
    sides = speech.decode(str(call))
    assert isinstance(sides, tuple)
    utterances = recogniser.hear(sides).utterances
    assert [u.speaker for u in utterances] == ["agent", "customer"]
    assert "appointment" in utterances[0].text.lower() and "insurance" in utterances[1].text.lower()
    assert utterances[1].start_ms >= len(agent) * 1000 // 16_000

    duplicated = tmp_path / "tts.wav"
    sf.write(duplicated, np.stack([piper_speech, piper_speech * 0.99], axis=1), 16_000)
    mono = speech.decode(str(duplicated), peaks_out=tmp_path / "peaks.npy")
    assert isinstance(mono, np.ndarray) and (tmp_path / "peaks.npy").exists()
    assert {u.speaker for u in recogniser.hear(mono).utterances} == {speech.SPEAKER}


def piece(seconds: float, *words: tuple[int, int]) -> speech.Piece:
    p = speech.Piece(0, 0, 16_000, 16_000 + int(seconds * 16_000))
    p.words = [Word("word", 1000 + a, 1000 + b, 0.9) for a, b in words]
    return p


def test_a_second_without_words_or_a_word_that_long_is_read_as_skipped_speech():
    assert not speech.skipped_words(piece(2.0, (100, 400), (450, 900), (950, 1800)))
    assert speech.skipped_words(piece(3.0, (100, 400), (450, 900)))  # the last 2 s have no words
    assert speech.skipped_words(piece(3.0, (100, 400), (450, 2900)))  # one word of 2.4 s
    assert speech.skipped_words(piece(1.5))
    assert not speech.skipped_words(piece(0.5))  # too short to hold a word: noise


def test_more_words_than_anyone_says_or_three_at_one_instant_are_read_as_a_loop():
    normal = piece(2.0, (0, 300), (320, 500), (520, 700), (750, 1200))
    assert not speech.crowded(normal.words, normal)
    piled = piece(2.0, (0, 300), (320, 321), (330, 331), (340, 341))
    assert speech.crowded(piled.words, piled)
    many = piece(2.0, *((k * 100, k * 100 + 90) for k in range(20)))  # ten words a second
    assert speech.crowded(many.words, many)


@pytest.mark.parametrize("seed", [2, 3])
def test_a_batch_of_renders_of_one_sentence_is_heard_once_each_not_skipped_or_looped(seed, cache):
    """Heard without timestamp tokens, a window of one sentence rendered over and over made the
    decoder jump from one take to the next (a take left with 3 words) or repeat the sentence until
    its length ran out (159 words in one take); such utterances are heard again alone."""
    text = "The meeting has been moved to the small conference room upstairs."
    rng = np.random.default_rng(seed)
    voice = engines.Voice("flite", "awb")
    renders = [script_faults.render(text, voice, f, rng) for f in script_faults.FAULTS for _ in range(2)]
    heard = speech.Recogniser(speech.TINY_EN, cache).hear_many([r.audio for r in renders])
    for r, transcript in zip(renders, heard, strict=True):
        said = len(r.said.split())
        assert said - 3 <= len(transcript.words) <= said + 3, (r.fault, r.said, transcript.text)
        starts = [w.start_ms for w in transcript.words]
        assert starts == sorted(starts) and starts[-1] - starts[0] > 1500, transcript.words


def test_a_decoding_the_model_took_for_no_speech_and_was_unsure_of_is_dropped():
    """faster-whisper's rule, kept now that windows are decoded directly: "Thank you." over a breath
    comes with a high no-speech probability and a low mean log-probability."""

    def decoding(no_speech: float, mean_logprob: float) -> SimpleNamespace:
        return SimpleNamespace(
            sequences_ids=[[1, 2, 3]], scores=[mean_logprob * 4 / 3], no_speech_prob=no_speech
        )

    assert speech.silent(decoding(0.8, -1.5))
    assert not speech.silent(decoding(0.8, -0.4))  # sure of its words: speech after all
    assert not speech.silent(decoding(0.3, -1.5))  # unsure, but of speech
