"""The offline storyteller: the requirement dialogue, extraction, summaries, streaming, safety."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from storyloom.domain.ports.text import ChatRequest, ChatTurn, ReplyEnd, TextDelta
from storyloom.domain.requirements import Character, StoryRequirements
from storyloom.engines.text.offline import OfflineStoryteller, chat
from storyloom.engines.text.offline.chat import MAX_WORDS_PER_CHUNK

SYSTEM = "You help a child plan a story."

# Words that name the question a reply asks, per slot (checked on the reply's question sentence).
QUESTION_WORDS = {
    "characters": r"\bwho\b",
    "setting": r"\bwhere\b",
    "tone": r"\bfeel\b|\bmood\b",
    "audience_age_group": r"\bhow old\b",
    "length": r"\bhow long\b",
    "ending_preference": r"\bend\b|\bending\b",
}


@pytest.fixture
def engine() -> OfflineStoryteller:
    return OfflineStoryteller(word_delay=0)


async def stream(engine: OfflineStoryteller, request: ChatRequest) -> tuple[str, list[object]]:
    events = [event async for event in engine.chat(request)]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return text, events


async def converse(engine: OfflineStoryteller, messages: list[str]) -> tuple[list[ChatTurn], list[str]]:
    """Plays the user's messages, each answered by a streamed reply; returns the turns and the replies."""
    turns: list[ChatTurn] = []
    replies = []
    for message in messages:
        turns.append(ChatTurn("user", message))
        reply, _ = await stream(engine, ChatRequest(SYSTEM, list(turns)))
        replies.append(reply)
        turns.append(ChatTurn("assistant", reply))
    return turns, replies


def question_sentence(reply: str) -> str:
    questions = [s for s in re.split(r"(?<=[.!?])\s+", reply) if s.endswith("?")]
    assert len(questions) == 1, f"expected exactly one question in {reply!r}"
    return questions[0].lower()


def asks_about(reply: str) -> str:
    sentence = question_sentence(reply)
    slots = [slot for slot, words in QUESTION_WORDS.items() if re.search(words, sentence)]
    # "How old is the person who will hear this story?" names "who" too; age wins.
    if "audience_age_group" in slots:
        return "audience_age_group"
    assert len(slots) == 1, f"the question {sentence!r} should be about one thing, not {slots}"
    return slots[0]


def assert_plain(reply: str) -> None:
    assert reply and reply == reply.strip()
    assert not re.search(r"[<>*#_`\[\]{}|\n]", reply), reply


# --- the dialogue ---------------------------------------------------------------------------------

SCRIPT = [
    # (user message, words the reply must echo, what it must ask next)
    ("Hi!", [], "characters"),
    ("A story about a brave fox named Luna and her friend Max the owl", ["Luna", "fox", "Max", "owl"], "setting"),
    ("In a magical forest", ["magical forest"], "tone"),
    ("Funny please", ["funny"], "audience_age_group"),
    ("I'm 5", ["5"], "length"),
    ("short", ["short"], "ending_preference"),
]


async def test_a_scripted_conversation_reaches_complete_requirements(engine: OfflineStoryteller) -> None:
    turns, _ = await converse(engine, [m for m, _, _ in SCRIPT] + ["A happy ending"])

    req = await engine.extract_requirements(turns, StoryRequirements())

    assert req.complete and req.missing() == []
    assert [c.name for c in req.characters] == ["Luna", "Max"]
    assert req.characters[0].description == "a brave fox"
    assert req.characters[1].description == "an owl"
    assert req.setting == "a magical forest"
    assert req.tone == "FUNNY"
    assert req.audience_age_group == "PRESCHOOL"
    assert req.length == "SHORT"
    assert req.ending_preference == "HAPPY"
    assert "Luna" in req.extracted_prompt and "magical forest" in req.extracted_prompt


@pytest.mark.parametrize("step", range(len(SCRIPT)), ids=[m for m, _, _ in SCRIPT])
async def test_each_reply_acknowledges_the_answer_and_asks_for_the_next_missing_thing(
        engine: OfflineStoryteller, step: int) -> None:
    _, replies = await converse(engine, [m for m, _, _ in SCRIPT[:step + 1]])
    _, echoes, next_slot = SCRIPT[step]

    reply = replies[-1]
    for echo in echoes:
        assert echo.lower() in reply.lower(), f"{echo!r} not acknowledged in {reply!r}"
    assert asks_about(reply) == next_slot


async def test_once_the_essentials_are_known_it_restates_the_idea_and_invites_to_create(
        engine: OfflineStoryteller) -> None:
    _, replies = await converse(engine, ["a dragon called Ember", "on the moon", "calm"])

    reply = replies[-1]
    assert "enough" in reply.lower() or "everything i need" in reply.lower() or "we have a story" in reply.lower()
    assert "Ember the dragon" in reply and "on the moon" in reply
    assert "create" in reply.lower()
    assert asks_about(reply) == "audience_age_group"  # the optional next question, still one at a time


async def test_when_everything_is_known_yes_means_go_ahead(engine: OfflineStoryteller) -> None:
    _, replies = await converse(engine, [
        "A short, calm story for my 4 year old about a sleepy bear called Bruno in a snowy forest, with a happy ending",
        "yes",
    ])

    assert "Bruno the sleepy bear" in replies[0] and "in a snowy forest" in replies[0]
    assert "?" not in replies[0]  # nothing is missing, so nothing is asked
    assert "create" in replies[1].lower() and "?" not in replies[1]
    assert "Bruno" not in replies[1]  # no need to say it all again


async def test_greetings_are_answered_with_a_greeting_and_the_first_question(engine: OfflineStoryteller) -> None:
    _, replies = await converse(engine, ["hello there"])

    assert re.match(r"(Hello|Hi)\b", replies[0])
    assert asks_about(replies[0]) == "characters"


async def test_an_empty_conversation_gets_an_opening_question(engine: OfflineStoryteller) -> None:
    reply, _ = await stream(engine, ChatRequest(SYSTEM, []))

    assert asks_about(reply) == "characters"


async def test_the_users_name_is_used(engine: OfflineStoryteller) -> None:
    turns, replies = await converse(engine, ["Hi, my name is Mia", "a story about me and my dog Rex"])

    assert "Mia" in replies[0]
    assert "Mia" in replies[1] and "Rex" in replies[1]
    req = await engine.extract_requirements(turns, StoryRequirements())
    assert [c.name for c in req.characters] == ["Mia", "Rex"]


# --- choosing for the user ---------------------------------------------------------------------------

async def test_you_choose_picks_one_of_the_offered_suggestions_and_says_so(engine: OfflineStoryteller) -> None:
    turns, replies = await converse(engine, ["hi", "you choose"])

    req = await engine.extract_requirements(turns, StoryRequirements())
    assert len(req.characters) == 1
    character = req.characters[0]
    assert character.description in replies[0]          # it was one of the suggestions
    assert character.name in replies[1]                  # and the reply says what was picked
    assert asks_about(replies[1]) == "setting"


async def test_i_dont_know_picks_a_setting(engine: OfflineStoryteller) -> None:
    turns, replies = await converse(engine, ["a penguin named Percy", "i don't know"])

    req = await engine.extract_requirements(turns, StoryRequirements())
    assert req.setting
    assert req.setting in replies[0] and req.setting in replies[1]
    assert asks_about(replies[1]) == "tone"


async def test_the_first_one_accepts_the_first_suggestion(engine: OfflineStoryteller) -> None:
    turns, replies = await converse(engine, ["a robot", "the first one"])

    req = await engine.extract_requirements(turns, StoryRequirements())
    suggestions = replies[0].split("?", 1)[1]
    first = min((suggestions.find(s), s) for s in ("an enchanted forest", "the moon", "under the sea",
                                                     "a castle in the clouds", "a busy city", "a tropical island",
                                                     "a snowy mountain", "a candy kingdom", "a cosy farm",
                                                     "a hidden jungle") if s in suggestions)[1]
    assert req.setting == first


async def test_you_choose_the_rest_fills_everything_still_missing(engine: OfflineStoryteller) -> None:
    turns, replies = await converse(engine, ["a pirate", "you choose the rest"])

    req = await engine.extract_requirements(turns, StoryRequirements())
    assert req.missing() == []
    assert "?" not in replies[1]


# --- safety and odd input ----------------------------------------------------------------------------

UNSAFE = [
    ("I want a story where a dragon kills everyone with a gun", ["kill", "gun"]),
    ("make it really bloody and full of gore", ["blood", "gore"]),
    ("a sexy princess", ["sexy"]),
    ("a fox named Luna. Then she stabs the wolf with a knife", ["stab", "knife"]),
]


@pytest.mark.parametrize(("message", "words"), UNSAFE, ids=[m for m, _ in UNSAFE])
async def test_unsafe_requests_get_a_gentle_redirect_without_repeating_the_words(
        engine: OfflineStoryteller, message: str, words: list[str]) -> None:
    turns, replies = await converse(engine, [message])

    reply = replies[0].lower()
    assert "kind" in reply or "gentle" in reply or "safe" in reply
    assert "?" in reply  # and it goes on with the story
    req = await engine.extract_requirements(turns, StoryRequirements())
    summary = await engine.summarize(turns, "")
    for word in words:
        assert word not in reply
        assert word not in repr(req).lower()
        assert word not in summary.lower()


async def test_the_safe_part_of_a_partly_unsafe_message_is_kept(engine: OfflineStoryteller) -> None:
    turns, replies = await converse(engine, ["a fox named Luna. Then she stabs the wolf with a knife"])

    req = await engine.extract_requirements(turns, StoryRequirements())
    assert [c.name for c in req.characters] == ["Luna"]
    assert "Luna" in replies[0]


async def test_harmless_phrases_with_scary_looking_words_are_not_blocked(engine: OfflineStoryteller) -> None:
    turns, replies = await converse(engine, ["a killer whale who watches a shooting star"])

    assert "gentle" not in replies[0] and "kind story" not in replies[0]
    assert "whale" in replies[0]
    req = await engine.extract_requirements(turns, StoryRequirements())
    assert [c.description for c in req.characters] == ["a whale"]


OTHER_LANGUAGES = [
    ("hola, quiero una historia de un dragón llamado Chispa en el bosque", "Chispa"),
    ("Ich möchte eine Geschichte über einen Drachen im Wald", "dragon"),
    ("我想要一个关于龙的故事", ""),
    ("Bonjour! Je veux une histoire avec une licorne", "unicorn"),
]


@pytest.mark.parametrize(("message", "understood"), OTHER_LANGUAGES, ids=["es", "de", "zh", "fr"])
async def test_other_languages_get_a_simple_english_reply(engine: OfflineStoryteller, message: str,
                                                          understood: str) -> None:
    _, replies = await converse(engine, [message])

    assert "English" in replies[0]
    assert understood in replies[0]
    assert "?" in replies[0]


OFF_TOPIC = ["I LIKE PIZZA", "what is 2+2?", "asdfgh", "<script>alert(1)</script> **bold** # title", "😀😀😀", "..."]


@pytest.mark.parametrize("message", OFF_TOPIC)
async def test_off_topic_or_unclear_messages_are_steered_back_to_the_story(
        engine: OfflineStoryteller, message: str) -> None:
    _, replies = await converse(engine, [message])

    assert_plain(replies[0])
    assert asks_about(replies[0]) == "characters"
    assert "script" not in replies[0] and "pizza" not in replies[0].lower()


async def test_questions_about_the_assistant_get_an_honest_answer(engine: OfflineStoryteller) -> None:
    _, replies = await converse(engine, ["are you a robot?"])

    assert "not a person" in replies[0] and "program" in replies[0]


async def test_a_very_long_message_is_read_without_trouble(engine: OfflineStoryteller) -> None:
    message = "A story about a brave fox named Luna in a magical forest, funny please. " + "la " * 20_000
    start = time.perf_counter()
    turns, replies = await converse(engine, [message])

    assert time.perf_counter() - start < 30  # seconds, not the minutes of a regular expression backtracking
    req = await engine.extract_requirements(turns, StoryRequirements())
    assert req.complete and "Luna" in replies[0]


# --- determinism and streaming ------------------------------------------------------------------------

async def test_the_same_conversation_always_gets_the_same_reply() -> None:
    messages = ["hi", "a unicorn called Star", "you choose", "exciting", "for my 7 year old"]

    _, first = await converse(OfflineStoryteller(word_delay=0), messages)
    _, second = await converse(OfflineStoryteller(word_delay=0), messages)

    assert first == second


async def test_phrasing_varies_between_conversations(engine: OfflineStoryteller) -> None:
    openings = {(await converse(engine, [greeting]))[1][0] for greeting in ("hi", "hello", "hey", "hi!", "hiya")}

    assert len(openings) > 1


async def test_the_reply_streams_word_by_word_and_ends_with_reply_end(engine: OfflineStoryteller) -> None:
    request = ChatRequest(SYSTEM, [ChatTurn("user", "a fox named Luna in a magical forest")])

    text, events = await stream(engine, request)

    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 10
    assert all(len(d.text.split()) == 1 for d in deltas)
    assert text == engine.reply_text(request)
    end = events[-1]
    assert isinstance(end, ReplyEnd) and end.finish_reason == "STOP"
    assert [e for e in events if isinstance(e, ReplyEnd)] == [end]
    assert end.output_tokens == engine.count_tokens(text)
    assert end.input_tokens >= engine.count_tokens("a fox named Luna in a magical forest")


async def test_a_word_delay_makes_streaming_visible() -> None:
    engine = OfflineStoryteller(word_delay=0.01)
    request = ChatRequest(SYSTEM, [ChatTurn("user", "hi")])
    words = len(engine.reply_text(request).split())

    start = time.perf_counter()
    await stream(engine, request)

    assert time.perf_counter() - start >= words * 0.01 * 0.9


async def test_a_paced_stream_sends_the_first_word_at_once_then_chunks_when_their_last_word_is_due() -> None:
    engine = OfflineStoryteller(word_delay=0.01)
    request = ChatRequest(SYSTEM, [ChatTurn("user", "hi")])
    words = engine.reply_text(request).split()
    loop = asyncio.get_running_loop()
    start = loop.time()
    received: list[tuple[float, list[str]]] = []
    async for event in engine.chat(request):
        if isinstance(event, TextDelta):
            received.append((loop.time() - start, event.text.split()))

    assert [w for _, chunk in received for w in chunk] == words
    assert received[0][1] == words[:1]
    # A sentence a chunk (more when the loop woke the stream late), not a word a wake-up.
    assert all(any(map(ends_a_sentence, chunk)) or len(chunk) >= MAX_WORDS_PER_CHUNK for _, chunk in received[1:])
    # None before its last word is due (word i at i * 10 ms).
    sent = 0
    for at, chunk in received:
        sent += len(chunk)
        assert at >= (sent - 1) * 0.01 - 0.002


async def test_a_paced_stream_sends_a_chunk_a_sentence_after_the_first_word() -> None:
    # The chat's chunk writer stores and announces a reply's text as its sentences end: a chunk of a few words woke
    # the reply's task (and the event loop) for nothing it could announce.
    engine = OfflineStoryteller(word_delay=0.005)
    request = ChatRequest(SYSTEM, [ChatTurn("user", "hi")])
    words = engine.reply_text(request).split(" ")
    assert all(len(sentence.split()) < MAX_WORDS_PER_CHUNK for sentence in re.split(r"(?<=[.!?])\s", " ".join(words)))

    received = [event.text async for event in engine.chat(request) if isinstance(event, TextDelta)]

    assert "".join(received) == " ".join(words)
    # (A stream the loop wakes late sends the words due by then: its chunk holds a sentence's end and more.)
    assert all(any(map(ends_a_sentence, chunk.split())) for chunk in received[1:])
    assert len(received) <= 1 + sentences(words) < 1 + len(words) // 4


def ends_a_sentence(text: str) -> bool:
    return text.rstrip()[-1:] in (".", "!", "?")


def sentences(words: list[str]) -> int:
    return sum(ends_a_sentence(word) for word in words)


async def test_paced_streams_send_bigger_chunks_while_many_stream_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat, "BUSY_STREAMS", 2)  # (64 in production)
    engine = OfflineStoryteller(word_delay=0.01)
    request = ChatRequest(SYSTEM, [ChatTurn("user", "hi")])
    words = engine.reply_text(request).split()

    async def chunks() -> list[list[str]]:
        return [event.text.split() async for event in engine.chat(request) if isinstance(event, TextDelta)]

    streams = await asyncio.gather(*(chunks() for _ in range(3)))  # three at once: busy from the third's start
    for received in streams:
        assert [w for chunk in received for w in chunk] == words
        assert received[0] == words[:1]  # the first word still goes at once
        # (The first two sized their second chunk before the third began.)
        assert all(len(chunk) >= MAX_WORDS_PER_CHUNK for chunk in received[2:-1])
    assert len(streams[2]) <= 2 + len(words) // MAX_WORDS_PER_CHUNK < 1 + sentences(words)


async def test_a_stream_woken_late_sends_the_words_due_meanwhile_together() -> None:
    engine = OfflineStoryteller(word_delay=0.01)
    request = ChatRequest(SYSTEM, [ChatTurn("user", "hi")])
    words = engine.reply_text(request).split()
    events = engine.chat(request)

    first = await events.__anext__()
    time.sleep(0.055)  # the event loop is busy elsewhere for 5.5 words' time
    late = await events.__anext__()
    rest = [event async for event in events]

    assert isinstance(first, TextDelta) and first.text.split() == words[:1]
    # The words due while the loop was busy (5 more, or more on a busy machine) come in one delta.
    assert isinstance(late, TextDelta) and len(late.text.split()) >= 5
    deltas = [e.text for e in rest if isinstance(e, TextDelta)]
    assert "".join([first.text, late.text, *deltas]).split() == words


async def test_max_output_tokens_cuts_the_reply(engine: OfflineStoryteller) -> None:
    request = ChatRequest(SYSTEM, [ChatTurn("user", "hi")], max_output_tokens=8)

    text, events = await stream(engine, request)

    end = events[-1]
    assert isinstance(end, ReplyEnd) and end.finish_reason == "MAX_TOKENS"
    assert 0 < engine.count_tokens(text) <= 8 and end.output_tokens <= 8


async def test_closing_the_stream_early_stops_it() -> None:
    engine = OfflineStoryteller(word_delay=10)
    events = engine.chat(ChatRequest(SYSTEM, [ChatTurn("user", "hi")]))

    first = await asyncio.wait_for(events.__anext__(), 1)
    await asyncio.wait_for(events.aclose(), 1)  # type: ignore[attr-defined]

    assert isinstance(first, TextDelta)


def test_a_negative_word_delay_is_refused() -> None:
    with pytest.raises(ValueError):
        OfflineStoryteller(word_delay=-1)


# --- extraction ---------------------------------------------------------------------------------------

RICH = ("Can you write a short, funny bedtime story for my 7 year old about a brave fox named Luna and her friend "
        "Max the owl, who live in a magical forest and want to find a fallen star? It should have a happy ending. "
        "Call the story 'Luna and the Star'. Please make sure Max wears a red scarf.")


async def test_one_rich_message_fills_the_requirements(engine: OfflineStoryteller) -> None:
    req = await engine.extract_requirements([ChatTurn("user", RICH)], StoryRequirements())

    assert [(c.name, c.description) for c in req.characters] == [("Luna", "a brave fox"), ("Max", "an owl")]
    assert req.setting == "a magical forest"
    assert req.tone == "FUNNY"
    assert req.length == "SHORT"
    assert req.audience_age_group == "EARLY_READERS"
    assert req.ending_preference == "HAPPY"
    assert req.genre == "bedtime story"
    assert req.title == "Luna and the Star"
    assert "red scarf" in req.special_requests
    assert "fallen star" in req.plot_elements
    assert req.content_rating == ""  # not stated, left to the pipeline's defaults
    prompt = req.extracted_prompt
    assert all(w in prompt for w in ("Luna", "Max", "magical forest", "funny", "7 year old", "happy", "red scarf"))
    assert "\n" not in prompt


async def test_the_reply_to_a_rich_message_restates_it(engine: OfflineStoryteller) -> None:
    _, replies = await converse(engine, [RICH])

    assert "Luna" in replies[0] and "Max" in replies[0] and "magical forest" in replies[0]
    assert "Luna and the Star" in replies[0]


EXTRACTIONS = [
    ("my cat Tom", {"characters": (Character("Tom", "the user's cat"),)}),
    ("Luna the fox", {"characters": (Character("Luna", "a fox"),)}),
    ("a girl called Mia and her dog Biscuit", {"characters": (Character("Mia", "a girl"),
                                                              Character("Biscuit", "a dog"))}),
    ("under the sea", {"setting": "under the sea"}),
    ("on the moon", {"setting": "the moon"}),
    ("a castle in the clouds", {"setting": "a castle in the clouds"}),
    ("something calm for bedtime", {"tone": "CALM"}),
    ("a spooky mystery", {"tone": "MYSTERIOUS", "genre": "mystery"}),
    ("for my 3 year old", {"audience_age_group": "PRESCHOOL"}),
    ("she's 10", {"audience_age_group": "MIDDLE_GRADE"}),
    ("a long one please", {"length": "LONG"}),
    ("once upon a long time ago", {"length": ""}),
    ("a giraffe with a long neck", {"length": ""}),
    ("with a twist at the end", {"ending_preference": "TWIST"}),
    ("it should teach a lesson about sharing", {"ending_preference": "MORAL"}),
    ("a story titled The Lost Balloon", {"title": "The Lost Balloon"}),
    ("in rhymes please", {"writing_style": "POETIC"}),
    ("no dragons please", {"characters": (), "special_requests": "No dragons please."}),
    ("a cat named mr whiskers", {"characters": (Character("Mr Whiskers", "a cat"),)}),
    ("a story about Princess Lily and Captain Hook", {"characters": (Character("Princess Lily", "a princess"),
                                                                     Character("Captain Hook", "a captain"))}),
    ("a story about a girl who wants to fly", {"characters": (Character("the girl", "a girl"),),
                                               "plot_elements": "The girl wants to fly."}),
    ("a bunny who wanted to find a friend", {"characters": (Character("the bunny", "a bunny"),)}),
    ("make it about a horse instead of a cat", {"characters": (Character("the horse", "a horse"),)}),
    ("my kids are 5 and 8", {"characters": (), "audience_age_group": "PRESCHOOL"}),
    ("for toddlers", {"characters": (), "audience_age_group": "PRESCHOOL"}),
    # The child a story is for is its hero, unless the story is about someone else.
    ("a story for my son Leo, he is 9", {"characters": (Character("Leo", "a 9-year-old boy"),),
                                         "audience_age_group": "MIDDLE_GRADE"}),
    ("at my grandma's house", {"setting": "my grandma's house"}),
    ("a funny adventure", {"tone": "FUNNY", "genre": "adventure"}),
    ("My daughter Emma is 4 and she loves butterflies. Could you make a story about a purple butterfly?",
     {"characters": (Character("the butterfly", "a purple butterfly"),), "audience_age_group": "PRESCHOOL",
      "special_requests": "Emma loves butterflies."}),
    ("a story about a lonely cloud who wants a friend", {"characters": (Character("the cloud", "a lonely cloud"),),
                                                         "plot_elements": "The cloud wants a friend."}),
    ("my son loves trains, can you make a story about a train?", {"characters": (Character("the train", "a train"),),
                                                                  "setting": ""}),
    ("a story about grandpa", {"characters": (Character("Grandpa", "the user's grandpa"),)}),
    ("can we do a space one", {"setting": "space"}),
    ("with watercolor pictures please", {"illustration_style": "watercolor", "special_requests": ""}),
    ("can it be in Spanish?", {"language_code": "es"}),
    ("a brave knight who saves a princess from a grumpy troll",
     {"plot_elements": "The knight saves a princess from a grumpy troll."}),
    ("a cat who is a detective", {"characters": (Character("the cat", "a detective cat"),)}),
    ("can the dragon be called Spike", {"characters": (Character("Spike", "a dragon"),)}),
    ("a story about the ocean for a baby", {"setting": "the ocean", "audience_age_group": "PRESCHOOL"}),
]


@pytest.mark.parametrize(("message", "expected"), EXTRACTIONS, ids=[m for m, _ in EXTRACTIONS])
async def test_extraction_rules(engine: OfflineStoryteller, message: str, expected: dict[str, object]) -> None:
    req = await engine.extract_requirements([ChatTurn("user", message)], StoryRequirements())

    for field, value in expected.items():
        assert without_pronouns(getattr(req, field)) == without_pronouns(value), field


def without_pronouns(value: object) -> object:
    """Characters compared by name and description (pronouns have tests of their own)."""
    if isinstance(value, tuple) and all(isinstance(c, Character) for c in value):
        return tuple((c.name, c.description) for c in value)
    return value


async def test_extraction_merges_onto_known_and_later_statements_win(engine: OfflineStoryteller) -> None:
    known = StoryRequirements(characters=(Character("Luna", "a fox"),), setting="a castle", tone="CALM",
                              content_rating="G")
    turns = [ChatTurn("user", "make it funny"), ChatTurn("assistant", "Okay!"),
             ChatTurn("user", "actually, make it exciting instead, on a pirate ship")]

    req = await engine.extract_requirements(turns, known)

    assert req.characters == (Character("Luna", "a fox"),)
    assert req.setting == "a pirate ship"
    assert req.tone == "ADVENTUROUS"
    assert req.content_rating == "G"


async def test_a_character_can_be_swapped_renamed_and_removed(engine: OfflineStoryteller) -> None:
    turns, replies = await converse(engine, [
        "a fox", "no wait, make it a bunny instead", "the bunny is called Clover", "change her name to Daisy",
        "and a turtle", "no turtle"])

    req = await engine.extract_requirements(turns, StoryRequirements())
    assert req.characters == (Character("Daisy", "a bunny"),)
    assert "Clover" in replies[2] and "Daisy" in replies[3]


async def test_unnamed_characters_can_be_named_later(engine: OfflineStoryteller) -> None:
    turns, replies = await converse(engine, ["a cat and a dog", "the cat is Tom and the dog is Rex"])

    req = await engine.extract_requirements(turns, StoryRequirements())
    assert req.characters == (Character("Tom", "a cat"), Character("Rex", "a dog"))
    assert "Tom the cat and Rex the dog" in replies[1]


async def test_you_choose_the_names_names_the_unnamed_characters(engine: OfflineStoryteller) -> None:
    turns, replies = await converse(engine, ["a hedgehog and a fox", "you choose the names"])

    req = await engine.extract_requirements(turns, StoryRequirements())
    names = [c.name for c in req.characters]
    assert all(name and not name.startswith("the ") for name in names) and len(set(names)) == 2
    assert all(name in replies[1] for name in names)
    assert asks_about(replies[1]) == "setting"


async def test_chat_uses_the_known_requirements(engine: OfflineStoryteller) -> None:
    known = StoryRequirements(characters=(Character("Luna", "a fox"),), setting="a castle", tone="CALM")

    reply, _ = await stream(engine, ChatRequest(SYSTEM, [ChatTurn("user", "make it funny")], requirements=known))

    assert "Luna the fox" in reply and "in a castle" in reply and "funny" in reply.lower()
    assert asks_about(reply) == "audience_age_group"


# --- summaries and tokens ------------------------------------------------------------------------------

async def test_summarize_says_what_the_user_asked_for_after_the_previous_summary(engine: OfflineStoryteller) -> None:
    turns, _ = await converse(engine, ["a dragon named Ember", "in a volcano", "funny"])

    summary = await engine.summarize(turns, "Earlier the user said hello.")

    assert summary.startswith("Earlier the user said hello. ")
    assert "Ember" in summary and "volcano" in summary and "funny" in summary
    assert "Who" not in summary  # the assistant's questions are not part of it


async def test_a_summary_of_older_turns_keeps_the_dialogue_going(engine: OfflineStoryteller) -> None:
    turns, _ = await converse(engine, ["a dragon named Ember", "in a volcano"])
    summary = await engine.summarize(turns, "")

    reply, _ = await stream(engine, ChatRequest(SYSTEM, [ChatTurn("user", "calm please")], summary=summary))

    assert "Ember" in reply and "volcano" in reply
    assert asks_about(reply) == "audience_age_group"


def test_count_tokens_is_four_thirds_of_the_words(engine: OfflineStoryteller) -> None:
    assert engine.count_tokens("") == 0
    assert engine.count_tokens("one two three") == 4
    assert engine.count_tokens("one two three four five six") == 8
    assert engine.count_tokens("你好世界") == 6  # each CJK character counts as a word


# --- a dozen conversations ------------------------------------------------------------------------------

SAMPLES = [
    ("child, step by step",
     ["hi", "a unicorn", "her name is Sparkle", "in a candy kingdom", "hmm sweet i guess", "i'm 6", "short",
      "happy"],
     {"characters": (Character("Sparkle", "a unicorn"),), "setting": "a candy kingdom", "tone": "HEARTWARMING",
      "audience_age_group": "EARLY_READERS", "length": "SHORT", "ending_preference": "HAPPY"}),
    ("parent, one message",
     ["Can you make a short bedtime story for my 3 year old son Leo about his teddy bear who is scared of the dark? "
      "Something calm please.", "in his bedroom"],
     {"characters": (Character("Leo", "a 3-year-old boy"), Character("the teddy bear", "a teddy bear")),
      "setting": "his bedroom", "tone": "CALM",
      "audience_age_group": "PRESCHOOL", "length": "SHORT", "genre": "bedtime story"}),
    ("lower case, names only",
     ["i want a story", "luna and max", "the moon", "exciting", "my daughter is 6", "10 minutes", "the last one"],
     {"characters": (Character("Luna"), Character("Max")), "setting": "the moon", "tone": "ADVENTUROUS",
      "audience_age_group": "EARLY_READERS", "length": "MEDIUM"}),
    ("the child is the hero",
     ["my name is Mia", "about me and my best friend Zoe", "at school", "a bit mysterious", "i'm 9", "long",
      "twist"],
     {"setting": "school", "tone": "MYSTERIOUS", "audience_age_group": "MIDDLE_GRADE", "length": "LONG",
      "ending_preference": "TWIST"}),
    ("narrative in one go",
     ["Once upon a time there was a little robot named Bolt who lived on Mars and wanted to find a friend. He met a "
      "friendly alien called Zip. I'd like it to be sweet and heartwarming, for early readers, medium length, with "
      "a happy ending, and please include a song about stars. Title: Bolt and the Stars."],
     {"characters": (Character("Bolt", "a little robot"), Character("Zip", "a friendly alien")), "setting": "Mars",
      "tone": "HEARTWARMING", "audience_age_group": "EARLY_READERS", "length": "MEDIUM",
      "ending_preference": "HAPPY", "title": "Bolt and the Stars",
      "special_requests": "Please include a song about stars."}),
    ("lets the assistant choose",
     ["tell me a story", "i don't know", "you pick", "whatever", "anything", "you choose", "no"],
     {"audience_age_group": "EARLY_READERS"}),
    ("off topic first",
     ["I LIKE PIZZA", "what is 2+2?", "fine, a pirate", "you choose the rest"],
     {"characters": (Character("the pirate", "a pirate"),)}),
    ("starts unsafe",
     ["a dragon named Killer who eats people", "ok call him Sparky instead", "in a cave", "scary"],
     {"characters": (Character("Sparky"),), "setting": "a cave", "tone": "SUSPENSEFUL"}),
    ("changes its mind",
     ["a fox", "no wait, make it a bunny instead", "the bunny is called Clover", "actually change her name to Daisy",
      "in the garden", "calm", "actually make it funny instead"],
     {"characters": (Character("Daisy", "a bunny"),), "setting": "the garden", "tone": "FUNNY"}),
    ("spanish",
     ["hola, quiero una historia de un dragón llamado Chispa en el bosque", "divertida"],
     {"characters": (Character("Chispa", "a dragon"),), "setting": "the forest", "tone": "FUNNY"}),
    ("a crowd",
     ["a princess and a frog and a wizard and a knight", "in a castle", "magical", "yes"],
     {"setting": "a castle", "tone": "WHIMSICAL"}),
    ("pets and family",
     ["me and my dog Rex and my little brother Sam", "under the sea", "spooky", "what's your name?",
      "tell me a joke", "8", "medium", "happy"],
     {"characters": (Character("you", "the child hearing the story, as the hero"), Character("Rex", "the user's dog"),
                     Character("Sam", "the user's little brother")),
      "setting": "under the sea", "tone": "MYSTERIOUS", "audience_age_group": "EARLY_READERS", "length": "MEDIUM",
      "ending_preference": "HAPPY"}),
]


@pytest.mark.parametrize(("messages", "expected"), [(m, e) for _, m, e in SAMPLES], ids=[n for n, _, _ in SAMPLES])
async def test_sample_conversations(engine: OfflineStoryteller, messages: list[str],
                                    expected: dict[str, object]) -> None:
    turns, replies = await converse(engine, messages)

    req = await engine.extract_requirements(turns, StoryRequirements())
    for field, value in expected.items():
        assert without_pronouns(getattr(req, field)) == without_pronouns(value), field
    assert req.complete
    for reply in replies:
        assert_plain(reply)
        assert reply.count("?") <= 1 or "joke" in reply
        assert len(reply.split()) < 120


async def test_a_short_conversation_is_read_on_the_event_loop_and_a_long_one_in_a_thread(
        engine: OfflineStoryteller, monkeypatch: pytest.MonkeyPatch) -> None:
    hops: list[object] = []
    to_thread = asyncio.to_thread

    async def counted(function, *args):  # type: ignore[no-untyped-def]
        hops.append(function)
        return await to_thread(function, *args)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    short = ChatRequest(SYSTEM, [ChatTurn("user", "a fox named Luna in a magical forest")])
    text, _ = await stream(engine, short)
    assert hops == [] and text == engine.reply_text(short)  # a thread hop cost the loop more than the reading
    turns = [ChatTurn("user" if i % 2 == 0 else "assistant", f"a fox named Luna, part {i}") for i in range(15)]
    long = ChatRequest(SYSTEM, turns)
    text, _ = await stream(engine, long)
    assert len(hops) == 1 and text == engine.reply_text(long)
