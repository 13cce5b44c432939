"""Word lists and phrasings for the offline storyteller (`offline.py`).

Plain data, no logic: what the rules recognise (characters, places, moods, ages...), what the
assistant suggests when it asks, and the sentences it says. Everything the assistant says is plain
text a child can hear read aloud: no markup, no emoji, one question mark per question.
"""

from __future__ import annotations

# --- characters ---------------------------------------------------------------------------------

# Beings a story can be about. Multi-word kinds are matched before single words.
KINDS = frozenset("""
fox cat kitten kitty dog puppy pup bunny rabbit bear owl mouse elephant lion lioness tiger monkey penguin
turtle tortoise frog toad horse pony pig piglet duck duckling chicken chick hen rooster cow calf sheep goat
lamb fish whale dolphin octopus seal otter bird parrot butterfly bee bumblebee ladybug ladybird caterpillar
snail squirrel hedgehog giraffe zebra panda koala kangaroo wolf deer reindeer moose raccoon badger beaver
crab shark crocodile alligator snake lizard dinosaur hamster llama sloth hippo rhino camel flamingo swan
goose crow eagle dragonfly ant starfish seahorse jellyfish puffin fawn cub chameleon gorilla cheetah
leopard walrus narwhal orca platypus mole firefly
dragon unicorn fairy pixie elf gnome goblin troll ogre giant wizard witch mermaid merman monster ghost
alien robot superhero genie phoenix griffin yeti sprite sorcerer magician dwarf
girl boy kid child baby princess prince king queen knight pirate astronaut explorer scientist detective
inventor doctor nurse teacher farmer chef baker firefighter builder artist musician dancer ballerina
cowboy cowgirl ninja captain sailor mom mum mommy mummy mama dad daddy papa grandma grandpa granny grandad
grandmother grandfather nana brother sister son daughter aunt auntie uncle cousin friend twin neighbor
neighbour toddler lady man woman grandson granddaughter pet toy doll snowman scarecrow
train car truck tractor bus plane airplane helicopter digger excavator bulldozer firetruck rocket boat ship
submarine
""".split()) | frozenset({
    "teddy bear", "polar bear", "guinea pig", "t-rex", "best friend", "gingerbread man", "sea turtle",
    "baby brother", "baby sister", "little brother", "little sister", "big brother", "big sister",
    "fire truck", "race car", "fire engine",
})

# Plural forms that adding "s"/"es" or "y" -> "ies" does not give.
IRREGULAR_PLURALS = {
    "mice": "mouse", "wolves": "wolf", "elves": "elf", "children": "child", "sheep": "sheep", "fish": "fish",
    "deer": "deer", "reindeer": "reindeer", "moose": "moose", "geese": "goose", "women": "woman", "men": "man",
    "dwarves": "dwarf", "calves": "calf",
}

# Kinds too general to be a character without a name or a determiner ("make friends").
GENERIC_KINDS = frozenset({"friend", "kid", "child", "baby", "man", "woman", "lady", "pet", "toy", "boy", "girl"})

# Kinds that are people in the family: "my brother Sam" is echoed as "your brother Sam".
FAMILY = frozenset({"mom", "mum", "mommy", "mummy", "mama", "dad", "daddy", "papa", "grandma", "grandpa", "granny",
                    "grandad", "grandmother", "grandfather", "nana", "brother", "sister", "son", "daughter", "aunt",
                    "auntie", "uncle", "cousin", "twin", "baby brother", "baby sister", "little brother",
                    "little sister", "big brother", "big sister", "grandson", "granddaughter"})

# Words that may describe a character or a place ("a brave little fox", "a snowy mountain").
ADJECTIVES = frozenset("""
brave little small tiny big huge giant friendly shy curious clever smart silly funny kind gentle magic magical
sleepy happy grumpy lonely young old wise fluffy cuddly fuzzy cute sweet naughty cheeky playful lazy busy hungry
lost lucky bold daring fearless mighty strong fast speedy slow tall chubby spotted spotty striped stripy noble
royal cheerful jolly talking flying dancing singing baby best new pet enchanted secret hidden faraway quiet
snowy sunny rainy icy frozen sparkly glittery shiny bright dark deep wild ancient tropical mysterious spooky
cozy cosy beautiful wonderful lovely noisy floating candy chocolate crystal golden silver rainbow gingerbread
sandy rocky colorful colourful invisible tiny teeny wee good nice great grand dreamy
red orange yellow green blue purple pink white black brown gray grey
""".split())

# Words that are never a name, even capitalised at the start of a sentence.
NOT_NAMES = frozenset("""
i a an the my our your his her their its it he she they we you me us him them this that these those there
here what who where when why how which once please yes no not nope yeah yep ok okay sure maybe and but or so
then also too very really just make let lets let's can could would should will shall do does did is are was
were be been have has had hi hello hey dear thanks thank story stories tale book about with without for from
in on at to into under over of by up down out one two three four five six seven eight nine ten first second
third last next some any all every each both other another more most much many few little lot lots
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december christmas halloween easter english spanish french german italian
portuguese dutch chinese japanese korean arabic hindi russian turkish polish swedish god ai bot robot
mr mrs ms miss sir madam like love want wants need go goes going come write tell give show start create
end ending beginning happy sad funny short long medium good great nice cool awesome fun new old big small
actually instead now today tonight tomorrow yesterday again everyone everybody someone somebody something
anything nothing none hmm um uh oh ah wow lol haha idk dunno whatever surprise choose pick decide
""".split())

# Everyday words, used to tell a name ("luna and max") from ordinary words when someone types in
# lower case. Names typed with a capital letter do not need this list.
COMMON_WORDS = NOT_NAMES | ADJECTIVES | frozenset("""
am because if than as while after before until since again off only own same such few about above below
between through during around near far away home house school day night time year years old age ages minute
minutes hour hours page pages word words thing things way people person kid kids child children baby babies
friend friends family animal animals place places world land sea sky water tree trees flower flowers
get got gets make makes made take took see saw look looks looking find found play plays playing run runs
fly flies eat eats sleep sleeps think know knew say said want wanted like liked love loved help helps
try tries learn learns live lives have having be being feel feels felt bored tired hungry sick excited
ready done finished sorry right wrong true false same different other yes yeah well fine alright
i'd i'll i've it's that's let's don't can't won't isn't aren't didn't doesn't we're you're they're he's she's
there's what's who's i'm im dont cant wont id ill ive its thats lets something really kind sort bit part parts
wait hmm umm oops instead change changed name named called call story thing stuff picture pictures
drawing drawings illustration illustrations style art images
""".split())

# --- places -------------------------------------------------------------------------------------

PLACES = frozenset("""
forest woods jungle rainforest castle palace kingdom tower space moon mars venus jupiter saturn planet galaxy
spaceship rocket ocean sea beach seaside island lake river pond waterfall underwater reef city town village
school classroom library museum zoo farm barn garden park playground backyard yard house home bedroom
treehouse cave mountain mountains hill hills volcano desert meadow field swamp arctic antarctica igloo
iceberg clouds sky rainbow bakery circus fair carnival ship boat submarine train airport hospital market
shop store kitchen attic basement tunnel valley wonderland fairyland dreamland lighthouse windmill farmhouse
cottage hut den nest burrow dollhouse orchard aquarium glade grove canyon prairie savanna savannah coast
harbor harbour street neighborhood neighbourhood stars world land
""".split()) | frozenset({
    "outer space", "north pole", "south pole", "pirate ship", "space station", "coral reef", "tree house",
    "toy shop", "toy store", "candy land", "amusement park", "theme park", "under the sea", "under the ocean",
    "under the bed", "bottom of the sea", "bottom of the ocean",
})

# Places that read better with "on"/"at" than "in" when the assistant restates them.
PLACE_PREPOSITION = {
    "moon": "on", "mars": "on", "venus": "on", "jupiter": "on", "saturn": "on", "planet": "on", "island": "on",
    "beach": "on", "farm": "on", "ship": "on", "boat": "on", "pirate ship": "on", "train": "on",
    "mountain": "on", "hill": "on", "iceberg": "on", "spaceship": "on", "rocket": "on", "space station": "on",
    "north pole": "at", "south pole": "at", "school": "at", "zoo": "at", "seaside": "at", "circus": "at",
    "fair": "at", "carnival": "at", "airport": "at", "lighthouse": "at", "playground": "at",
}

# Prepositions kept in a setting ("under the sea"); others ("in", "on", "at") are dropped and
# chosen again when the setting is restated.
KEPT_PREPOSITIONS = ("under", "underneath", "beneath", "above", "inside", "behind", "beyond", "near", "over")

# --- moods, kinds of story, and the rest ---------------------------------------------------------

# (phrase, tone, strong). A strong word states the mood outright and overrides an earlier one; a
# weak word ("adventure", "bedtime") only sets the mood when none is known yet, or when the
# assistant has just asked about it.
TONE_WORDS = (
    ("funny", "FUNNY", True), ("silly", "FUNNY", True), ("hilarious", "FUNNY", True), ("goofy", "FUNNY", True),
    ("make me laugh", "FUNNY", True), ("giggly", "FUNNY", True), ("laugh", "FUNNY", False),
    ("jokes", "FUNNY", False), ("giggle", "FUNNY", False), ("comedy", "FUNNY", False),
    ("calm", "CALM", True), ("gentle", "CALM", True), ("peaceful", "CALM", True), ("soothing", "CALM", True),
    ("cozy", "CALM", True), ("cosy", "CALM", True), ("relaxing", "CALM", True), ("quiet", "CALM", False),
    ("bedtime", "CALM", False), ("sleepy", "CALM", False),
    ("exciting", "ADVENTUROUS", True), ("adventurous", "ADVENTUROUS", True), ("action", "ADVENTUROUS", True),
    ("epic", "ADVENTUROUS", True), ("adventure", "ADVENTUROUS", False), ("quest", "ADVENTUROUS", False),
    ("whimsical", "WHIMSICAL", True), ("dreamy", "WHIMSICAL", True), ("full of wonder", "WHIMSICAL", True),
    ("magical", "WHIMSICAL", False), ("magic", "WHIMSICAL", False), ("enchanted", "WHIMSICAL", False),
    ("fairy tale", "WHIMSICAL", False),
    ("heartwarming", "HEARTWARMING", True), ("heart warming", "HEARTWARMING", True), ("sweet", "HEARTWARMING", True),
    ("touching", "HEARTWARMING", True), ("cute", "HEARTWARMING", False), ("friendship", "HEARTWARMING", False),
    ("mysterious", "MYSTERIOUS", True), ("spooky", "MYSTERIOUS", True), ("mystery", "MYSTERIOUS", False),
    ("detective", "MYSTERIOUS", False), ("secret", "MYSTERIOUS", False), ("clues", "MYSTERIOUS", False),
    ("suspenseful", "SUSPENSEFUL", True), ("suspense", "SUSPENSEFUL", True), ("thrilling", "SUSPENSEFUL", True),
    ("scary", "SUSPENSEFUL", True), ("tense", "SUSPENSEFUL", True),
    ("educational", "EDUCATIONAL", True), ("teach", "EDUCATIONAL", False), ("teaches", "EDUCATIONAL", False),
    ("facts", "EDUCATIONAL", False),
    ("serious", "SERIOUS", True), ("thoughtful", "SERIOUS", True),
)

# Words that, as an answer to "how should it feel?", name a mood.
TONE_ANSWERS = {"happy": "HEARTWARMING", "nice": "HEARTWARMING", "kind": "HEARTWARMING", "sad": "SERIOUS",
                "fun": "FUNNY", "magic": "WHIMSICAL", "excited": "ADVENTUROUS", "cool": "ADVENTUROUS"}

GENRES = (
    ("fairy tale", "fairy tale"), ("fairytale", "fairy tale"), ("fable", "fable"), ("fantasy", "fantasy"),
    ("science fiction", "science fiction"), ("sci-fi", "science fiction"), ("scifi", "science fiction"),
    ("mystery", "mystery"), ("detective story", "mystery"), ("adventure", "adventure"),
    ("bedtime story", "bedtime story"), ("superhero", "superhero story"), ("comedy", "comedy"),
    ("poem", "rhyming story"), ("rhyming", "rhyming story"), ("rhymes", "rhyming story"), ("legend", "legend"),
    ("myth", "myth"), ("ghost story", "ghost story"), ("animal story", "animal story"),
)

# (phrase, ending). Phrases are matched anywhere; ENDING_ANSWERS only as an answer to "how should it end?".
ENDING_WORDS = (
    ("happy ending", "HAPPY"), ("happily ever after", "HAPPY"), ("ends happily", "HAPPY"), ("end happily", "HAPPY"),
    ("happy end", "HAPPY"), ("good ending", "HAPPY"), ("nice ending", "HAPPY"),
    ("sad ending", "BITTERSWEET"), ("bittersweet", "BITTERSWEET"), ("a bit sad", "BITTERSWEET"),
    ("surprise ending", "TWIST"), ("twist", "TWIST"), ("surprise at the end", "TWIST"),
    ("unexpected ending", "TWIST"),
    ("lesson", "MORAL"), ("moral", "MORAL"),
    ("open ending", "OPEN"), ("cliffhanger", "OPEN"), ("to be continued", "OPEN"),
)
ENDING_ANSWERS = {"happy": "HAPPY", "happily": "HAPPY", "good": "HAPPY", "nice": "HAPPY", "sad": "BITTERSWEET",
                  "surprise": "TWIST", "surprising": "TWIST", "open": "OPEN", "mystery": "OPEN"}

# Length words and what they mean; "long" is not a length in "a long time ago" or "long ears".
LENGTH_WORDS = {"short": "SHORT", "shorter": "SHORT", "quick": "SHORT", "brief": "SHORT", "tiny": "SHORT",
                "medium": "MEDIUM", "middle": "MEDIUM", "normal": "MEDIUM", "regular": "MEDIUM",
                "long": "LONG", "longer": "LONG", "longest": "LONG", "big": "LONG", "huge": "LONG", "little": "SHORT"}
# Length words that count only as an answer to "how long?" ("a big dragon" is not a long story).
LOOSE_LENGTH_WORDS = frozenset({"tiny", "middle", "normal", "regular", "big", "huge", "little"})
NOT_LENGTH_AFTER = frozenset("""
time ago ears ear neck tail tails hair nose legs leg arms way walk trip journey while beard hat dress
""".split())

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
                "sixteen": 16, "seventeen": 17, "eighteen": 18}

# Words for an audience, as an age in years (a group's typical age).
AGE_WORDS = (
    ("toddler", 2), ("toddlers", 2), ("preschooler", 4), ("preschoolers", 4), ("preschool", 4),
    ("kindergarten", 5), ("nursery", 4), ("little ones", 4), ("little one", 4), ("little kids", 4),
    ("young children", 4), ("small children", 4), ("first grade", 6), ("1st grade", 6), ("first grader", 6),
    ("second grade", 7), ("2nd grade", 7), ("third grade", 8), ("3rd grade", 8), ("fourth grade", 9),
    ("fifth grade", 10), ("sixth grade", 11), ("early reader", 7), ("early readers", 7), ("big kids", 10),
    ("middle grade", 10), ("middle school", 12), ("tween", 11), ("tweens", 11), ("teen", 14), ("teens", 14),
    ("teenager", 14), ("teenagers", 14), ("high school", 15), ("adults", 30), ("grown-ups", 30),
    ("grownups", 30), ("grown ups", 30),
)

LANGUAGES = {"english": "en", "spanish": "es", "french": "fr", "german": "de", "italian": "it",
             "portuguese": "pt", "dutch": "nl", "polish": "pl", "swedish": "sv", "turkish": "tr", "chinese": "zh",
             "japanese": "ja", "korean": "ko", "arabic": "ar", "hindi": "hi", "russian": "ru", "greek": "el"}

ILLUSTRATION_STYLES = ("watercolor", "watercolour", "cartoon", "crayon", "pencil", "pastel", "pixel art",
                       "comic book", "comic", "anime", "claymation", "paper cut", "storybook", "oil painting")

# --- conversation cues ---------------------------------------------------------------------------

GREETINGS = ("hello", "hi", "hey", "hiya", "howdy", "good morning", "good afternoon", "good evening",
             "greetings", "yo", "hola", "bonjour", "salut", "hallo", "ciao", "ola", "olá", "namaste",
             "konnichiwa", "merhaba", "hej", "privet")

# The user leaves a choice to the assistant. Checked on the whole message, lower case.
CHOOSE_PHRASES = ("you choose", "you pick", "you decide", "u choose", "u pick", "you can choose", "you can pick",
                  "you can decide", "up to you", "surprise me", "i don't know", "i dont know", "i do not know",
                  "idk", "dunno", "not sure", "i'm not sure", "no idea", "anything", "whatever", "any of them",
                  "doesn't matter", "does not matter", "don't mind", "dont mind", "random", "your choice",
                  "you think of", "you tell me", "can't decide", "cant decide", "i can't think", "hmm not sure")
# "you choose the place", "you pick everything": which slot the word names.
CHOOSE_TARGETS = {"name": "characters", "names": "characters", "character": "characters",
                  "characters": "characters", "hero": "characters", "who": "characters",
                  "place": "setting", "setting": "setting", "where": "setting", "location": "setting",
                  "mood": "tone", "tone": "tone", "feeling": "tone", "feel": "tone", "age": "audience_age_group",
                  "length": "length", "ending": "ending_preference", "end": "ending_preference",
                  "rest": "*", "everything": "*", "all": "*", "others": "*", "other": "*"}

YES_WORDS = frozenset({"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "alright", "all right", "fine", "good",
                       "great", "perfect", "sounds good", "that one", "yes please", "ok sure", "okay sure",
                       "cool", "awesome", "why not", "of course", "definitely", "si", "oui", "ja", "yas"})
# Words that take the assistant's first suggestion ("ok" and "cool" only agree).
ACCEPT_WORDS = frozenset({"yes", "yeah", "yep", "yup", "sure", "yes please", "definitely", "of course",
                          "sounds good", "that one", "why not", "yas", "si", "oui", "ja"})
NO_WORDS = frozenset({"no", "nope", "nah", "no thanks", "no thank you", "not really", "none", "neither",
                      "none of them", "no way"})
# The user wants the story now.
CREATE_PHRASES = ("create it", "create the story", "create my story", "make it now", "make the story",
                  "write it", "write the story", "just write", "just make", "let's go", "lets go", "go ahead",
                  "start the story", "i'm ready", "im ready", "we're ready", "ready", "that's all", "thats all",
                  "that's it", "thats it", "nothing else", "no more", "all done", "i'm done", "done",
                  "tell me the story", "tell me a story", "can you make it", "make a story now")
ORDINALS = (("first", 0), ("1st", 0), ("number one", 0), ("second", 1), ("2nd", 1), ("number two", 1),
            ("middle", 1), ("third", 2), ("3rd", 2), ("number three", 2), ("last", -1))
THANKS = ("thank you", "thanks", "thank u", "thx", "ty")
BYES = ("bye", "goodbye", "good night", "goodnight", "see you", "see ya")

# --- safety --------------------------------------------------------------------------------------

# Violent, sexual and grown-up horror words. A sentence with one of these is left out of the story
# and never repeated. Matched as whole words, with the common endings (kill, kills, killed...).
BLOCKED_STEMS = (
    "kill", "murder", "stab", "shoot", "slaughter", "massacre", "strangle", "behead", "decapitate", "torture",
    "gore", "gory", "blood", "bloody", "corpse", "suicide", "self-harm", "rape", "molest", "abuse", "kidnap",
    "terrorist", "bomb", "gun", "rifle", "pistol", "knife", "knives", "weapon", "grenade", "chainsaw",
    "sex", "sexy", "sexual", "naked", "nude", "porn", "boob", "penis", "vagina", "horny",
    "drug", "cocaine", "heroin", "meth", "drunk", "alcohol", "beer", "vodka", "whiskey", "cigarette",
    "fuck", "fucking", "shit", "bitch", "bastard", "asshole", "dick", "cunt", "whore", "slut", "damn", "crap",
    "nazi", "hitler", "horror", "slasher", "satan", "satanic", "demonic", "dismember", "maim", "mutilate",
    "stabbed", "stabbing", "kidnapped", "kidnapping", "raped", "shot dead",
)
# Harmless phrases that contain a blocked word; removed before checking.
SAFE_PHRASES = ("shooting star", "shooting stars", "water gun", "water guns", "bubble gun", "squirt gun",
                "nerf gun", "bath bomb", "killer whale", "killer whales", "blood orange", "butter knife",
                "root beer", "bamboo shoot", "bamboo shoots")

# --- other languages -----------------------------------------------------------------------------

# Common words of a few languages: a message made mostly of these is not English.
FOREIGN_WORDS = frozenset("""
el los las una unos que quiero historia cuento sobre con del por favor hola mi para y es muy pero tengo
le les une je veux histoire conte avec et est pour bonjour mon ma sur des du il elle qui une petit petite
der die das ein eine ich möchte will geschichte mit und ist für hallo mein meine über von bitte einen
il lo gli voglio storia con è per ciao mio mia una uno della
o um uma quero história com é para olá meu minha sobre
""".split())
ENGLISH_WORDS = frozenset("""
the a an i want story about with and is for my please to of in on it be that this you me can make
""".split())

# A few story words of Spanish, French, German, Italian and Portuguese, read as English so that
# "un dragón llamado Chispa en el bosque" still gives a dragon named Chispa in a forest.
TRANSLATIONS = {
    "dragón": "dragon", "drache": "dragon", "drachen": "dragon", "drago": "dragon", "dragão": "dragon",
    "gato": "cat", "gata": "cat", "chat": "cat", "katze": "cat", "gatto": "cat",
    "perro": "dog", "chien": "dog", "hund": "dog", "cane": "dog", "cachorro": "puppy",
    "zorro": "fox", "renard": "fox", "fuchs": "fox", "volpe": "fox", "raposa": "fox",
    "oso": "bear", "ours": "bear", "bär": "bear", "orso": "bear", "urso": "bear",
    "conejo": "bunny", "lapin": "bunny", "hase": "bunny", "coniglio": "bunny", "coelho": "bunny",
    "princesa": "princess", "princesse": "princess", "prinzessin": "princess", "principessa": "princess",
    "unicornio": "unicorn", "licorne": "unicorn", "einhorn": "unicorn", "unicorno": "unicorn",
    "unicórnio": "unicorn", "roboter": "robot", "robô": "robot", "hada": "fairy", "fée": "fairy",
    "fee": "fairy", "fata": "fairy", "niña": "girl", "niño": "boy", "fille": "girl", "garçon": "boy",
    "mädchen": "girl", "junge": "boy", "bambina": "girl", "bambino": "boy", "menina": "girl", "menino": "boy",
    "bosque": "forest", "forêt": "forest", "wald": "forest", "foresta": "forest", "floresta": "forest",
    "castillo": "castle", "château": "castle", "schloss": "castle", "burg": "castle", "castello": "castle",
    "castelo": "castle", "espacio": "space", "espace": "space", "weltraum": "space", "spazio": "space",
    "espaço": "space", "mar": "sea", "mer": "sea", "meer": "sea", "océano": "ocean", "océan": "ocean",
    "ozean": "ocean", "oceano": "ocean", "selva": "jungle", "jungla": "jungle", "dschungel": "jungle",
    "lune": "moon", "mond": "moon", "escuela": "school", "école": "school", "schule": "school",
    "scuola": "school", "escola": "school", "playa": "beach", "plage": "beach", "strand": "beach",
    "spiaggia": "beach", "praia": "beach", "isla": "island", "île": "island", "insel": "island",
    "isola": "island", "ilha": "island", "ciudad": "city", "ville": "city", "stadt": "city", "città": "city",
    "cidade": "city", "granja": "farm", "ferme": "farm", "bauernhof": "farm", "fattoria": "farm",
    "fazenda": "farm", "montaña": "mountain", "montagne": "mountain", "berg": "mountain",
    "montagna": "mountain", "montanha": "mountain",
    "divertida": "funny", "divertido": "funny", "drôle": "funny", "lustig": "funny", "lustige": "funny",
    "divertente": "funny", "engraçada": "funny", "engraçado": "funny", "mágica": "magical", "mágico": "magical",
    "magique": "magical", "magisch": "magical", "magica": "magical", "magico": "magical",
    "tranquila": "calm", "tranquilo": "calm", "calme": "calm", "ruhig": "calm", "ruhige": "calm",
    "calma": "calm", "corta": "short", "corto": "short", "courte": "short", "court": "short", "kurz": "short",
    "kurze": "short", "breve": "short", "larga": "long", "largo": "long", "longue": "long", "lange": "long",
    "lunga": "long", "longa": "long", "feliz": "happy", "heureuse": "happy", "heureux": "happy",
    "glücklich": "happy", "felice": "happy", "aventura": "adventure", "aventure": "adventure",
    "abenteuer": "adventure", "avventura": "adventure",
    "llamado": "named", "llamada": "named", "appelé": "named", "appelée": "named", "namens": "named",
    "chiamato": "named", "chiamata": "named", "chamado": "named", "chamada": "named",
    "años": "years old", "ans": "years old", "jahre": "years old", "anni": "years old", "anos": "years old",
    "en": "in", "dans": "in", "im": "in the", "nel": "in the", "nella": "in the",
    "el": "the", "la": "the", "le": "the", "der": "the", "die": "the", "das": "the", "il": "the", "lo": "the",
    "un": "a", "una": "a", "une": "a", "ein": "a", "eine": "a", "einen": "a", "uma": "a", "um": "a",
    "y": "and", "et": "and", "und": "and", "e": "and", "con": "with", "avec": "with", "mit": "with",
    "sobre": "about", "sur": "about", "über": "about", "historia": "story", "cuento": "story",
    "histoire": "story", "geschichte": "story", "storia": "story", "história": "story",
}

# --- what the assistant says ---------------------------------------------------------------------

# Suggestions the assistant offers, per slot. Characters: (phrase, kind, name given when the
# assistant picks it). Settings: the setting as stored. Others: (phrase, value).
CHARACTER_OPTIONS = (
    ("a brave little fox", "fox", "Pip"), ("a friendly dragon", "dragon", "Ember"),
    ("a curious robot", "robot", "Bolt"), ("a kind unicorn", "unicorn", "Stardust"),
    ("a clever little mouse", "mouse", "Milo"), ("a cheerful penguin", "penguin", "Percy"),
    ("a wise old owl", "owl", "Olive"), ("a young astronaut", "astronaut", "Nova"),
    ("a gentle giant", "giant", "Bramble"), ("a little mermaid", "mermaid", "Coral"),
)
# Names the assistant gives when asked to choose one.
NAMES = ("Pip", "Luna", "Milo", "Daisy", "Ziggy", "Pepper", "Sunny", "Juniper", "Coco", "Bean", "Maple", "Otto")
SETTING_OPTIONS = ("an enchanted forest", "the moon", "under the sea", "a castle in the clouds", "a busy city",
                   "a tropical island", "a snowy mountain", "a candy kingdom", "a cosy farm", "a hidden jungle")
TONE_OPTIONS = (("funny and silly", "FUNNY"), ("calm and cosy", "CALM"), ("full of adventure", "ADVENTUROUS"),
                ("magical and full of wonder", "WHIMSICAL"), ("sweet and heartwarming", "HEARTWARMING"),
                ("a little bit mysterious", "MYSTERIOUS"))
AGE_OPTIONS = (("4", 4), ("7", 7), ("10", 10))
LENGTH_OPTIONS = (("a short one", "SHORT"), ("a medium one", "MEDIUM"), ("a long one", "LONG"))
ENDING_OPTIONS = (("a happy ending", "HAPPY"), ("a surprise twist", "TWIST"), ("a little lesson", "MORAL"),
                  ("an open ending", "OPEN"))

# The question for each slot, and how the suggestions follow it ({options} is "A, B or C").
QUESTIONS = {
    "characters": ("Who should the story be about?", "Who is the hero of our story?",
                   "Who will be in our story?"),
    "setting": ("Where does the story happen?", "Where should our story take place?",
                "Where will our story be?"),
    "tone": ("How should the story feel?", "What mood should our story have?"),
    "audience_age_group": ("How old is the person who will hear this story?", "How old is our listener?"),
    "length": ("How long should the story be?", "How long would you like the story to be?"),
    "ending_preference": ("How should the story end?", "What kind of ending would you like?"),
}
SUGGESTIONS = {
    "characters": ("You could choose {options}. Or think of your own!",
                   "Maybe {options}. Or anyone you like!"),
    "setting": ("It could be {options}. Or anywhere you like!", "Maybe {options}. Or a place you dream up!"),
    "tone": ("It could be {options}.", "Maybe {options}."),
    "audience_age_group": ("For example {options} years old.",),
    "length": ("You can pick {options}.",),
    "ending_preference": ("Maybe {options}.", "It could be {options}."),
}

ACK_CHARACTERS_ONE = ("{c}, what a wonderful hero!", "Oh, I love {c} already!", "{c} sounds like a great hero.")
ACK_CHARACTERS_MANY = ("{c}, what a team!", "Oh, I love {c} already!", "{c}, what a wonderful bunch!")
ACK_SETTING = ("{s} is a perfect place for a story.", "Ooh, {p}! I can already picture it.",
               "{s}, what a great place for an adventure.")
ACK_TONE = {
    "FUNNY": ("A funny story, hooray! I love a good giggle.", "Funny and silly it is, get ready to giggle."),
    "CALM": ("Calm and cosy, just right for snuggling up.", "A calm and gentle story, lovely."),
    "ADVENTUROUS": ("An exciting adventure, hooray!", "Full of adventure, how exciting!"),
    "WHIMSICAL": ("Magical and full of wonder, lovely.", "A magical story, how wonderful!"),
    "HEARTWARMING": ("Sweet and heartwarming, lovely.", "A warm and kind story, I love that."),
    "MYSTERIOUS": ("A little mystery, how exciting!", "Mysterious, ooh, I love a good puzzle."),
    "SUSPENSEFUL": ("Exciting and full of suspense, but never too scary.",),
    "EDUCATIONAL": ("A story where we learn something new, great idea.",),
    "SERIOUS": ("A thoughtful story, I understand.",),
}
ACK_LENGTH = {"SHORT": ("Short and sweet, perfect.", "A short story, just right."),
              "MEDIUM": ("A medium-length story, just right.",),
              "LONG": ("A long story, lots of time for fun.", "A nice long story, wonderful.")}
ACK_ENDING = {"HAPPY": ("A happy ending, of course!", "A happy ending, my favourite."),
              "TWIST": ("A surprise twist, ooh, sneaky!",),
              "MORAL": ("A little lesson at the end, very wise.",),
              "OPEN": ("An open ending, so you can imagine what happens next.",),
              "BITTERSWEET": ("A gentle, bittersweet ending, I understand.",)}

# How the story idea is restated: "<characters> <what they do> <where>".
TONE_ACTIONS = {
    "FUNNY": ("has a silly, giggly adventure", "have a silly, giggly adventure"),
    "CALM": ("has a calm and cosy adventure", "have a calm and cosy adventure"),
    "ADVENTUROUS": ("goes on an exciting adventure", "go on an exciting adventure"),
    "WHIMSICAL": ("discovers something magical", "discover something magical"),
    "HEARTWARMING": ("has a sweet, heartwarming adventure", "have a sweet, heartwarming adventure"),
    "MYSTERIOUS": ("solves a little mystery", "solve a little mystery"),
    "SUSPENSEFUL": ("faces an exciting challenge", "face an exciting challenge"),
    "EDUCATIONAL": ("learns something new", "learn something new"),
    "SERIOUS": ("faces something important", "face something important"),
    "": ("has an adventure", "have an adventure"),
}
TONE_ADJECTIVES = {"FUNNY": "funny", "CALM": "calm", "ADVENTUROUS": "adventurous", "WHIMSICAL": "magical",
                   "HEARTWARMING": "heartwarming", "MYSTERIOUS": "mysterious", "SUSPENSEFUL": "suspenseful",
                   "EDUCATIONAL": "educational", "SERIOUS": "thoughtful"}
AUDIENCE_PHRASES = {"PRESCHOOL": "little ones (about 3 to 5)", "EARLY_READERS": "early readers (about 6 to 8)",
                    "MIDDLE_GRADE": "older kids (about 9 to 12)", "TEENS": "teens", "ADULTS": "grown-ups"}
LENGTH_PHRASES = {"SHORT": "short", "MEDIUM": "medium-length", "LONG": "long"}
ENDING_PHRASES = {"HAPPY": "a happy ending", "BITTERSWEET": "a gentle, bittersweet ending",
                  "OPEN": "an open ending", "TWIST": "a surprise twist at the end",
                  "MORAL": "a little lesson at the end"}

ENOUGH_FIRST = ("That's everything I need to make your story!", "Wonderful, I have enough to make your story now!",
                "Yay, now we have a story!")
ENOUGH_AGAIN = ("I've added that to our story.", "Got it, our story just got even better.",
                "Perfect, I've put that in.")
RESTATE = ("Here's our story idea: {idea}", "So, here's the plan: {idea}", "Here's what I have: {idea}")
INVITE = ("If you like it, go ahead and create the story.", "You can create the story now if you like.",
          "When you're ready, go ahead and create it.")
INVITE_MORE_QUESTION = "Or, to make it just right, tell me: {question}"
INVITE_MORE = ("Or tell me anything else you'd like to add.", "Or, if you want, tell me more to add.")
STILL_READY = ("Our story is ready to create whenever you are.",
               "Our story is all set whenever you want to create it.")
READY = ("Hooray! Everything is ready. Go ahead and create the story, I can't wait for you to hear it.",
         "Wonderful! Your story is all set. Go ahead and create it whenever you're ready.")

GREETING_FIRST = ("Hello{name}! I'm your story helper. Let's make a story together.",
                  "Hi{name}! I'm your story helper, and I love making up stories. Let's make one together.")
GREETING_AGAIN = ("Hi again{name}!", "Hello again{name}!")
REDIRECT_UNSAFE = (
    "Hmm, let's keep our story kind and gentle, so it's nice for everyone.",
    "Let's make this a kind story that feels safe and happy for everyone.",
    "That's not something I put in stories, so let's keep ours kind and gentle.",
)
FOREIGN = "I speak English best, so I'll answer in English."
NOT_UNDERSTOOD = ("Hmm, I'm not sure I understood that, but that's okay.", "Okay!",
                  "I didn't quite catch that, but no problem.")
OFF_TOPIC_QUESTION = ("That's a fun question! I'm best at stories, though, so let's get back to ours.",
                      "Good question! I'm a story helper, so I'm better at stories than at that.")
OFF_TOPIC = ("That sounds interesting! I'm best at stories, so let's get back to ours.",
             "Ooh, interesting! Now, back to our story.")
ABOUT_ME = ("I'm the Storyloom story helper. I'm a simple computer program that follows story recipes, "
            "not a person, and I love making up stories with you.")
HELP = ("I help you plan a story. Tell me who it's about, where it happens, and how it should feel, "
        "and then you can create it.")
HOW_ARE_YOU = "I'm happy and ready to make a story!"
JOKES = ("Here's a joke: why did the teddy bear say no to dessert? Because it was already stuffed!",
         "Here's a joke: what do you call a sleeping dinosaur? A dino-snore!",
         "Here's a joke: why do fish live in salt water? Because pepper makes them sneeze!")
DECLINED = ("No problem!", "That's okay!")
DECLINED_READY = ("Okay! Then everything is ready. Go ahead and create the story whenever you like.",)
THANKS_REPLY = "You're welcome!"
BYE_REPLY = "Bye for now! Come back any time to finish our story."
PICKED = ("You'd like me to choose, so I picked {x}.", "Let me choose, then: {x}!", "I'll pick {x} for us.")
ACCEPTED = ("Great choice: {x}!", "{x}, lovely choice!")
NAME_HINT = "If {c} has a name, you can tell me anytime."
MANY_DETAILS = ("Wow, you've thought of everything!", "What a wonderful idea, you've told me so much!")

# Foreign words that are also English words (or too short to trust): translated only when the
# whole message reads as another language.
ENGLISH_HOMOGRAPHS = frozenset("""
chat mar fee cane ours court strand lange die la le en e um im un una el lo il der das y et con sobre sur ans anos
mit burg berg hund hase junge nel nella ein eine einen uma dans und avec robot fine
""".split())
FUNCTION_TRANSLATIONS = frozenset({"the", "a", "and", "with", "in", "in the", "about"})
# Story words of other languages understood even in a one-word answer ("divertida").
ALWAYS_TRANSLATE = frozenset(k for k, v in TRANSLATIONS.items()
                             if k not in ENGLISH_HOMOGRAPHS and len(k) > 3 and v not in FUNCTION_TRANSLATIONS)
