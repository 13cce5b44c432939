from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StoryTone(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STORY_TONE_UNSPECIFIED: _ClassVar[StoryTone]
    STORY_TONE_WHIMSICAL: _ClassVar[StoryTone]
    STORY_TONE_FUNNY: _ClassVar[StoryTone]
    STORY_TONE_ADVENTUROUS: _ClassVar[StoryTone]
    STORY_TONE_CALM: _ClassVar[StoryTone]
    STORY_TONE_HEARTWARMING: _ClassVar[StoryTone]
    STORY_TONE_MYSTERIOUS: _ClassVar[StoryTone]
    STORY_TONE_SUSPENSEFUL: _ClassVar[StoryTone]
    STORY_TONE_EDUCATIONAL: _ClassVar[StoryTone]
    STORY_TONE_SERIOUS: _ClassVar[StoryTone]

class StoryLength(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STORY_LENGTH_UNSPECIFIED: _ClassVar[StoryLength]
    STORY_LENGTH_SHORT: _ClassVar[StoryLength]
    STORY_LENGTH_MEDIUM: _ClassVar[StoryLength]
    STORY_LENGTH_LONG: _ClassVar[StoryLength]

class Persona(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERSONA_UNSPECIFIED: _ClassVar[Persona]
    PERSONA_CHILDRENS_BOOK_AUTHOR: _ClassVar[Persona]
    PERSONA_FAIRY_TALE_TELLER: _ClassVar[Persona]
    PERSONA_BEDTIME_STORYTELLER: _ClassVar[Persona]
    PERSONA_FANTASY_AUTHOR: _ClassVar[Persona]
    PERSONA_SCIENCE_FICTION_AUTHOR: _ClassVar[Persona]
    PERSONA_MYSTERY_WRITER: _ClassVar[Persona]
    PERSONA_ADVENTURE_WRITER: _ClassVar[Persona]
    PERSONA_HUMORIST: _ClassVar[Persona]
    PERSONA_POET: _ClassVar[Persona]
    PERSONA_HISTORICAL_FICTION_AUTHOR: _ClassVar[Persona]
    PERSONA_EDUCATOR: _ClassVar[Persona]

class WritingStyle(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WRITING_STYLE_UNSPECIFIED: _ClassVar[WritingStyle]
    WRITING_STYLE_SIMPLE: _ClassVar[WritingStyle]
    WRITING_STYLE_CASUAL: _ClassVar[WritingStyle]
    WRITING_STYLE_FORMAL: _ClassVar[WritingStyle]
    WRITING_STYLE_DESCRIPTIVE: _ClassVar[WritingStyle]
    WRITING_STYLE_POETIC: _ClassVar[WritingStyle]
    WRITING_STYLE_HUMOROUS: _ClassVar[WritingStyle]

class NarrativePointOfView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NARRATIVE_POINT_OF_VIEW_UNSPECIFIED: _ClassVar[NarrativePointOfView]
    NARRATIVE_POINT_OF_VIEW_FIRST_PERSON: _ClassVar[NarrativePointOfView]
    NARRATIVE_POINT_OF_VIEW_SECOND_PERSON: _ClassVar[NarrativePointOfView]
    NARRATIVE_POINT_OF_VIEW_THIRD_PERSON_LIMITED: _ClassVar[NarrativePointOfView]
    NARRATIVE_POINT_OF_VIEW_THIRD_PERSON_OMNISCIENT: _ClassVar[NarrativePointOfView]

class AudienceAgeGroup(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIENCE_AGE_GROUP_UNSPECIFIED: _ClassVar[AudienceAgeGroup]
    AUDIENCE_AGE_GROUP_PRESCHOOL: _ClassVar[AudienceAgeGroup]
    AUDIENCE_AGE_GROUP_EARLY_READERS: _ClassVar[AudienceAgeGroup]
    AUDIENCE_AGE_GROUP_MIDDLE_GRADE: _ClassVar[AudienceAgeGroup]
    AUDIENCE_AGE_GROUP_TEENS: _ClassVar[AudienceAgeGroup]
    AUDIENCE_AGE_GROUP_ADULTS: _ClassVar[AudienceAgeGroup]

class ContentRating(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTENT_RATING_UNSPECIFIED: _ClassVar[ContentRating]
    CONTENT_RATING_G: _ClassVar[ContentRating]
    CONTENT_RATING_PG: _ClassVar[ContentRating]
    CONTENT_RATING_PG_13: _ClassVar[ContentRating]

class EndingPreference(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENDING_PREFERENCE_UNSPECIFIED: _ClassVar[EndingPreference]
    ENDING_PREFERENCE_HAPPY: _ClassVar[EndingPreference]
    ENDING_PREFERENCE_BITTERSWEET: _ClassVar[EndingPreference]
    ENDING_PREFERENCE_OPEN: _ClassVar[EndingPreference]
    ENDING_PREFERENCE_TWIST: _ClassVar[EndingPreference]
    ENDING_PREFERENCE_MORAL: _ClassVar[EndingPreference]
STORY_TONE_UNSPECIFIED: StoryTone
STORY_TONE_WHIMSICAL: StoryTone
STORY_TONE_FUNNY: StoryTone
STORY_TONE_ADVENTUROUS: StoryTone
STORY_TONE_CALM: StoryTone
STORY_TONE_HEARTWARMING: StoryTone
STORY_TONE_MYSTERIOUS: StoryTone
STORY_TONE_SUSPENSEFUL: StoryTone
STORY_TONE_EDUCATIONAL: StoryTone
STORY_TONE_SERIOUS: StoryTone
STORY_LENGTH_UNSPECIFIED: StoryLength
STORY_LENGTH_SHORT: StoryLength
STORY_LENGTH_MEDIUM: StoryLength
STORY_LENGTH_LONG: StoryLength
PERSONA_UNSPECIFIED: Persona
PERSONA_CHILDRENS_BOOK_AUTHOR: Persona
PERSONA_FAIRY_TALE_TELLER: Persona
PERSONA_BEDTIME_STORYTELLER: Persona
PERSONA_FANTASY_AUTHOR: Persona
PERSONA_SCIENCE_FICTION_AUTHOR: Persona
PERSONA_MYSTERY_WRITER: Persona
PERSONA_ADVENTURE_WRITER: Persona
PERSONA_HUMORIST: Persona
PERSONA_POET: Persona
PERSONA_HISTORICAL_FICTION_AUTHOR: Persona
PERSONA_EDUCATOR: Persona
WRITING_STYLE_UNSPECIFIED: WritingStyle
WRITING_STYLE_SIMPLE: WritingStyle
WRITING_STYLE_CASUAL: WritingStyle
WRITING_STYLE_FORMAL: WritingStyle
WRITING_STYLE_DESCRIPTIVE: WritingStyle
WRITING_STYLE_POETIC: WritingStyle
WRITING_STYLE_HUMOROUS: WritingStyle
NARRATIVE_POINT_OF_VIEW_UNSPECIFIED: NarrativePointOfView
NARRATIVE_POINT_OF_VIEW_FIRST_PERSON: NarrativePointOfView
NARRATIVE_POINT_OF_VIEW_SECOND_PERSON: NarrativePointOfView
NARRATIVE_POINT_OF_VIEW_THIRD_PERSON_LIMITED: NarrativePointOfView
NARRATIVE_POINT_OF_VIEW_THIRD_PERSON_OMNISCIENT: NarrativePointOfView
AUDIENCE_AGE_GROUP_UNSPECIFIED: AudienceAgeGroup
AUDIENCE_AGE_GROUP_PRESCHOOL: AudienceAgeGroup
AUDIENCE_AGE_GROUP_EARLY_READERS: AudienceAgeGroup
AUDIENCE_AGE_GROUP_MIDDLE_GRADE: AudienceAgeGroup
AUDIENCE_AGE_GROUP_TEENS: AudienceAgeGroup
AUDIENCE_AGE_GROUP_ADULTS: AudienceAgeGroup
CONTENT_RATING_UNSPECIFIED: ContentRating
CONTENT_RATING_G: ContentRating
CONTENT_RATING_PG: ContentRating
CONTENT_RATING_PG_13: ContentRating
ENDING_PREFERENCE_UNSPECIFIED: EndingPreference
ENDING_PREFERENCE_HAPPY: EndingPreference
ENDING_PREFERENCE_BITTERSWEET: EndingPreference
ENDING_PREFERENCE_OPEN: EndingPreference
ENDING_PREFERENCE_TWIST: EndingPreference
ENDING_PREFERENCE_MORAL: EndingPreference

class StoryRequirements(_message.Message):
    __slots__ = ("title", "genre", "characters", "setting", "tone", "length", "special_requests", "plot_elements", "persona", "persona_description", "writing_style", "narrative_point_of_view", "audience_age_group", "content_rating", "ending_preference", "language_code", "illustration_style", "extracted_prompt", "scene_count", "moral")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    GENRE_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    SETTING_FIELD_NUMBER: _ClassVar[int]
    TONE_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    PLOT_ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    PERSONA_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    WRITING_STYLE_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_POINT_OF_VIEW_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_AGE_GROUP_FIELD_NUMBER: _ClassVar[int]
    CONTENT_RATING_FIELD_NUMBER: _ClassVar[int]
    ENDING_PREFERENCE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    ILLUSTRATION_STYLE_FIELD_NUMBER: _ClassVar[int]
    EXTRACTED_PROMPT_FIELD_NUMBER: _ClassVar[int]
    SCENE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MORAL_FIELD_NUMBER: _ClassVar[int]
    title: str
    genre: str
    characters: _containers.RepeatedCompositeFieldContainer[Character]
    setting: str
    tone: StoryTone
    length: StoryLength
    special_requests: str
    plot_elements: str
    persona: Persona
    persona_description: str
    writing_style: WritingStyle
    narrative_point_of_view: NarrativePointOfView
    audience_age_group: AudienceAgeGroup
    content_rating: ContentRating
    ending_preference: EndingPreference
    language_code: str
    illustration_style: str
    extracted_prompt: str
    scene_count: int
    moral: str
    def __init__(self, title: _Optional[str] = ..., genre: _Optional[str] = ..., characters: _Optional[_Iterable[_Union[Character, _Mapping]]] = ..., setting: _Optional[str] = ..., tone: _Optional[_Union[StoryTone, str]] = ..., length: _Optional[_Union[StoryLength, str]] = ..., special_requests: _Optional[str] = ..., plot_elements: _Optional[str] = ..., persona: _Optional[_Union[Persona, str]] = ..., persona_description: _Optional[str] = ..., writing_style: _Optional[_Union[WritingStyle, str]] = ..., narrative_point_of_view: _Optional[_Union[NarrativePointOfView, str]] = ..., audience_age_group: _Optional[_Union[AudienceAgeGroup, str]] = ..., content_rating: _Optional[_Union[ContentRating, str]] = ..., ending_preference: _Optional[_Union[EndingPreference, str]] = ..., language_code: _Optional[str] = ..., illustration_style: _Optional[str] = ..., extracted_prompt: _Optional[str] = ..., scene_count: _Optional[int] = ..., moral: _Optional[str] = ...) -> None: ...

class Character(_message.Message):
    __slots__ = ("name", "description", "pronouns")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRONOUNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    pronouns: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., pronouns: _Optional[str] = ...) -> None: ...
