"""Word lists and sentence templates of the offline story grammar (`offline_story.py`).

Plain data, no logic. Templates are past-tense narration with placeholders the grammar fills for
the point of view (see offline_story.py for the full list):

    {H} {he} {him} {his} {himself} {was} {Hs}  the hero: "Pip"/"I"/"you", "she"/"I"/"you", "Pip's"/"my"...
    {Hname}                                     the hero by name, also in first person (for dialogue)
    {F} {fhe} {fhim} {fhis} {fwas} {Fname}      the first friend
    {W} {we} {us} {our} {ourselves} {were}      the hero and the friends together ("Ember and I", "we")
    {place} {spot} {in_place} {a_place}         the setting ("the enchanted forest", "the forest"...)
    {station} {at_station} {helper} {the_helper} {speaker} {thing} {the_thing}  per scene

`{a|b|c}` picks one alternative (by a hash, never at random). `[...]` is a detail kept only for older
audiences and descriptive styles. A template starting with "L:" is only used for preschool listeners,
"R:" only for older ones. Templates used at content rating G must not contain any word of
SCARY_WORDS; the grammar drops any that does, and the tests check it.
"""

from __future__ import annotations

# Words a G-rated story never uses in its own sentences (a character or a setting the user named is kept).
SCARY_WORDS = frozenset("""
scary scared scare afraid fear fears feared fearful frightened frightening fright terrified terrifying
terror danger dangerous monster monsters storm storms stormy thunder lightning dark darkness shadow shadows
trapped trap scream screamed screaming peril threat creepy spooky hurt hurts injured wound wounded pain
panic panicked alarm howl howled crash crashing crashed blare blared drowning drown sinking collapse
""".split())

# --- settings ---------------------------------------------------------------------------------------
# Each family: the words that pick it (the first one found in the setting wins), places to go
# ((noun, preposition), the climax last), folk to meet ((indefinite, definite, speaker)), a companion for
# a hero who came alone ((name, description, pronoun, kind)), sights and sounds, a snack, facts for
# educational stories, and mild (PG) and real (PG_13) peril with how the mild peril resolves.

FAMILIES: dict[str, dict[str, object]] = {
    "forest": {
        "words": ("forest", "woods", "wood", "glade", "grove", "orchard"),
        "stations": (("the bubbling brook", "by"), ("the hollow log", "by"), ("the mossy stones", "among"),
                     ("the old oak tree", "under"), ("the blackberry bushes", "behind"), ("the fern patch", "in"),
                     ("the little waterfall", "by"), ("the sunny clearing", "in")),
        "summit": ("the tallest hill", "at the top of", "up to the top of"),
        "helpers": (("a wise old owl", "the owl", "the owl"), ("a family of ducks", "the ducks", "the mother duck"),
                    ("a busy beaver", "the beaver", "the beaver"),
                    ("a chatty squirrel", "the squirrel", "the squirrel"),
                    ("a gentle deer", "the deer", "the deer"), ("a sleepy badger", "the badger", "the badger")),
        "companion": ("Olive", "a wise old owl", "she", "owl"),
        "sights": ("The trees were tall and green, and the moss was as soft as a pillow.",
                   "Sunlight dripped through the leaves like golden honey.",
                   "Mushrooms stood in little rings, like tiny tables set for tea.",
                   "Ferns unrolled their curly green fingers in the warm air."),
        "sounds": ("Somewhere, a woodpecker went tap, tap, tap.",
                   "The leaves whispered to each other in the breeze.",
                   "The air smelled of pine needles and fresh rain."),
        "snack": "a handful of sweet blackberries",
        "facts": ("an owl can turn its head almost all the way around",
                  "a tree grows a new ring inside its trunk every year, so you can count the rings to learn its age",
                  "moss can soak up water like a sponge"),
        "peril": ("A cold wind rushed through the trees, and the branches creaked and swayed.",
                  "For a moment, the path disappeared under a heap of blown leaves, and {Hs} heart thumped."),
        "peril_end": ("Then {F} spotted the white stones that marked the path, and {W} found {our} way again.",),
        "stakes": ("Thunder cracked overhead, and a heavy branch came crashing down right where {H} had been "
                   "standing a moment before.",
                   "{W} pressed close together under a rocky ledge, hearts pounding, and waited for the worst of "
                   "it to pass."),
        "stakes_end": ("When the wind dropped at last, {W} crept out. The path was gone under fallen branches, and "
                       "it took the rest of the afternoon to find a new way.",),
    },
    "jungle": {
        "words": ("jungle", "rainforest", "rain forest"),
        "stations": (("the giant lily pads", "by"), ("the hanging vines", "among"), ("the waterfall pool", "by"),
                     ("the tall kapok tree", "under"), ("the orchid garden", "in"), ("the muddy river", "along"),
                     ("the rope bridge", "on"), ("the banana grove", "in")),
        "summit": ("the tallest tree in the jungle", "at the top of", "up to the top of"),
        "helpers": (("a chatty parrot", "the parrot", "the parrot"), ("a sleepy sloth", "the sloth", "the sloth"),
                    ("a family of monkeys", "the monkeys", "the littlest monkey"),
                    ("a bright blue frog", "the frog", "the frog"),
                    ("a gentle elephant", "the elephant", "the elephant"),
                    ("a wise old tortoise", "the tortoise", "the tortoise")),
        "companion": ("Kiki", "a cheeky little monkey", "she", "monkey"),
        "sights": ("Giant leaves made a green roof high above.",
                   "Flowers as bright as paint bloomed everywhere.",
                   "Vines hung down like ropes, just right for swinging.",
                   "Butterflies as big as hands fluttered through the sunbeams."),
        "sounds": ("Parrots squawked, monkeys chattered, and frogs croaked along.",
                   "Rain pattered on the leaves high above, drip, drop, drip.",
                   "The warm air smelled of flowers and ripe fruit."),
        "snack": "some sweet mango slices",
        "facts": ("a sloth moves so slowly that tiny green plants can grow in its fur",
                  "rainforests are home to more than half of all the kinds of plants and animals in the world",
                  "some frogs are as small as your fingernail"),
        "peril": ("The rope bridge swayed and wobbled high above the rushing river.",
                  "{H} held the rope tight, and {his} knees went wibbly-wobbly."),
        "peril_end": ("\"Don't look down,\" said {F}, and one careful step at a time, {W} made it across.",),
        "stakes": ("A rotten plank snapped, and {H} dropped through the bridge, hanging on with all {his} strength "
                   "above the rushing water.",
                   "It took every bit of {our} courage to pull {him} back up, and the bridge would not hold "
                   "for long."),
        "stakes_end": ("{F} grabbed on and pulled {Ho} up onto solid ground, just as the last ropes of the bridge "
                       "gave way.",),
    },
    "sea": {
        "words": ("under the sea", "under the ocean", "bottom of the sea", "bottom of the ocean", "underwater",
                  "coral reef", "reef", "ocean", "sea", "seaside", "beach", "island", "coast", "bay", "lagoon",
                  "harbor", "harbour", "lake", "aquarium"),
        "stations": (("the coral garden", "in"), ("the sunken ship", "beside"), ("the kelp forest", "through"),
                     ("the rock pools", "by"), ("the sandy cove", "in"), ("the old lighthouse", "near"),
                     ("the seagrass meadow", "in"), ("the shell beach", "on")),
        "summit": ("the great rock in the middle of the bay", "on top of", "up onto"),
        "helpers": (("a friendly old turtle", "the turtle", "the turtle"),
                    ("a school of silver fish", "the fish", "the littlest fish"),
                    ("a chatty seagull", "the seagull", "the seagull"), ("a shy octopus", "the octopus", "the octopus"),
                    ("a playful dolphin", "the dolphin", "the dolphin"),
                    ("a crab with one big claw", "the crab", "the crab")),
        "companion": ("Shelly", "a friendly sea turtle", "she", "turtle"),
        "sights": ("The water sparkled blue and green, and little bubbles danced up toward the light.",
                   "Bright fish darted in and out of the coral like flashes of paint.",
                   "Shells of every color lay scattered across the sand.",
                   "Seaweed swayed slowly, as if it were dancing to a song only it could hear."),
        "sounds": ("The waves went swish, swoosh, swish.",
                   "Far away, a whale sang a long, low song.",
                   "The air tasted of salt and sunshine."),
        "snack": "some crunchy seaweed snacks",
        "facts": ("an octopus has three hearts",
                  "sea turtles can hold their breath for hours while they rest",
                  "the ocean covers most of our planet"),
        "peril": ("A big wave rolled in, bigger than all the others, and tumbled {us} head over heels.",
                  "For a moment, everything was bubbles and swirling sand."),
        "peril_end": ("When the water cleared, {F} was right there, holding on tight, and everyone was safe.",),
        "stakes": ("The current grabbed {us} and pulled, hard and fast, toward the open sea.",
                   "{W} swam with all {our} strength, but the rocks were getting farther away."),
        "stakes_end": ("Just when {our} strength was almost gone, {F} spotted a line of rocks, and {W} clung to "
                       "them until the current let go.",),
    },
    "space": {
        "words": ("outer space", "space station", "spaceship", "space", "moon", "mars", "venus", "jupiter",
                  "saturn", "planet", "galaxy", "rocket", "stars", "comet", "asteroid"),
        "stations": (("the silver crater", "in"), ("the moon dust hills", "over"), ("the space station", "at"),
                     ("the glowing comet", "beside"), ("the crystal caves", "in"), ("the floating rocks", "among"),
                     ("the purple planet", "on"), ("the star nursery", "near")),
        "summit": ("the highest moon mountain", "at the top of", "up to the top of"),
        "helpers": (("a friendly little robot", "the robot", "the robot"),
                    ("a shy moon rabbit", "the moon rabbit", "the moon rabbit"),
                    ("a wise old comet", "the comet", "the comet"),
                    ("a chatty satellite", "the satellite", "the satellite"),
                    ("a kind alien with seven wiggly fingers", "the alien", "the alien"),
                    ("a sleepy space whale", "the space whale", "the space whale")),
        "companion": ("Bleep", "a helpful little robot", "it", "robot"),
        "sights": ("Stars twinkled in every direction, more stars than anyone could ever count.",
                   "Far away, the Earth glowed like a blue and white marble.",
                   "Moon dust puffed up in soft silver clouds with every step.",
                   "Planets drifted by, striped and spotted and ringed."),
        "sounds": ("Everything was so quiet that {we} could hear {our} own breathing.",
                   "The rocket's engine hummed a soft, steady hum.",
                   "The radio crackled and beeped a friendly hello."),
        "snack": "some space crackers from a silver packet",
        "facts": ("there is no air in space, so sound cannot travel there",
                  "a day on Venus is longer than its whole year",
                  "the footprints astronauts left on the moon may stay there for millions of years, because there "
                  "is no wind to blow them away"),
        "peril": ("A shower of tiny space pebbles came whizzing past, ping, ping, ping!",
                  "{W} ducked behind a big moon rock and waited."),
        "peril_end": ("When the last pebble zipped by, {F} peeked out and gave a happy wave. Everyone was fine.",),
        "stakes": ("An alarm began to blare, and a red light blinked: there was only enough air left for one more "
                   "hour.",
                   "If {we} did not find a way back soon, {we} would not make it home at all."),
        "stakes_end": ("{F} found the leak and sealed it with the very last patch, and the red light turned green "
                       "again. There was air enough, but only just.",),
    },
    "castle": {
        "words": ("castle", "palace", "kingdom", "tower", "throne"),
        "stations": (("the great hall", "in"), ("the rose garden", "in"), ("the tall tower", "up in"),
                     ("the royal kitchens", "in"), ("the drawbridge", "by"), ("the castle library", "in"),
                     ("the stables", "in"), ("the winding staircase", "on")),
        "summit": ("the highest tower", "at the top of", "up to the top of"),
        "helpers": (("a kind old knight", "the knight", "the knight"), ("a cheerful cook", "the cook", "the cook"),
                    ("a royal cat", "the cat", "the cat"), ("a chatty parrot", "the parrot", "the parrot"),
                    ("a wise old librarian", "the librarian", "the librarian"),
                    ("a jolly court jester", "the jester", "the jester")),
        "companion": ("Sir Bramble", "a kind old knight", "he", "knight"),
        "sights": ("Flags fluttered from every tower, red and gold against the sky.",
                   "Long tapestries covered the walls, full of stitched dragons and unicorns.",
                   "The stone floors were cool and smooth, worn soft by many, many feet.",
                   "From the tall windows, the whole kingdom stretched out like a patchwork quilt."),
        "sounds": ("Somewhere, a trumpet played a cheerful little tune.",
                   "The castle bells rang, dong, dong, dong.",
                   "The smell of fresh bread drifted up from the kitchens."),
        "snack": "some warm bread rolls from the royal kitchens",
        "facts": ("castles had very thick walls, which kept them cool in summer",
                  "long ago, castle floors were covered with sweet-smelling herbs",
                  "a moat is a ring of water all the way around a castle"),
        "peril": ("Halfway up the winding stairs, the candle blew out, and it was dark as a pocket.",
                  "{W} stood very still, listening to the wind moaning through the windows."),
        "peril_end": ("Then {F} found the railing, and step by step, {W} climbed toward a thin line of light.",),
        "stakes": ("The old drawbridge groaned and began to rise, with {us} still on it.",
                   "{W} had to run and jump, and {H} only just caught the edge of the stone wall."),
        "stakes_end": ("{W} scrambled over the wall and onto the stones, scraped and breathless, and the bridge "
                       "boomed shut behind {us}.",),
    },
    "town": {
        "words": ("city", "town", "village", "street", "neighborhood", "neighbourhood", "school", "classroom",
                  "library", "museum", "zoo", "market", "shop", "store", "hospital", "airport", "station", "circus",
                  "fair", "carnival", "amusement park", "theme park"),
        "stations": (("the busy market", "at"), ("the town square", "in"), ("the little bakery", "at"),
                     ("the library", "at"), ("the park with the fountain", "in"), ("the bus stop", "at"),
                     ("the bookshop on the corner", "at"), ("the old clock tower", "by")),
        "summit": ("the tallest rooftop in town", "on", "up onto"),
        "helpers": (("a friendly baker", "the baker", "the baker"),
                    ("a kind bus driver", "the bus driver", "the bus driver"),
                    ("a wise old librarian", "the librarian", "the librarian"),
                    ("a flock of pigeons", "the pigeons", "the biggest pigeon"),
                    ("a friendly mail carrier", "the mail carrier", "the mail carrier"),
                    ("a street musician with a shiny trumpet", "the musician", "the musician")),
        "companion": ("Pepper", "a clever city pigeon", "she", "pigeon"),
        "sights": ("Tall buildings stood side by side, their windows shining in the sun.",
                   "Bicycles whizzed past with their bells ringing.",
                   "Flower boxes hung under the windows, full of red and yellow blooms.",
                   "Bright umbrellas bobbed along the sidewalk like walking mushrooms."),
        "sounds": ("Cars hummed, buses sighed, and somewhere a dog barked hello.",
                   "The clock tower chimed the hour, bong, bong, bong.",
                   "The smell of fresh bread drifted out of the bakery."),
        "snack": "some warm pretzels",
        "facts": ("pigeons can find their way home from very far away",
                  "the first public libraries let people borrow books for free",
                  "very tall buildings sway a tiny bit in the wind"),
        "peril": ("The crowd grew thicker and thicker, and suddenly {F} was nowhere to be seen.",
                  "{H} looked left and right, and {his} heart beat fast."),
        "peril_end": ("Then {H} heard a familiar voice, and there was {F}, waving from the fountain.",),
        "stakes": ("The rain came down so hard that the street turned into a rushing river, and the water rose over "
                   "the curb.",
                   "The lights went out all over town, and people hurried to get away from the water."),
        "stakes_end": ("{W} climbed onto a high wall and waited there, soaked and cold, until the water slowly went "
                       "down.",),
    },
    "snow": {
        "words": ("north pole", "south pole", "snowy", "snow", "mountain", "mountains", "arctic", "antarctica",
                  "iceberg", "igloo", "ice", "frozen", "winter", "glacier"),
        "stations": (("the frozen pond", "by"), ("the snowy pine trees", "among"), ("the ice cave", "in"),
                     ("the sledding hill", "at"), ("the igloo village", "in"), ("the icy bridge", "on"),
                     ("the warm spring", "by"), ("the mountain path", "along")),
        "summit": ("the snowy peak", "at the top of", "up to the top of"),
        "helpers": (("a friendly polar bear", "the polar bear", "the polar bear"),
                    ("a waddle of penguins", "the penguins", "the smallest penguin"),
                    ("a wise old walrus", "the walrus", "the walrus"), ("a snowy owl", "the owl", "the owl"),
                    ("a cheerful arctic fox", "the arctic fox", "the arctic fox"),
                    ("a shaggy mountain goat", "the goat", "the goat")),
        "companion": ("Percy", "a cheerful penguin", "he", "penguin"),
        "sights": ("Snow covered everything like a thick white blanket.",
                   "Icicles hung from the rocks and sparkled like glass.",
                   "{Our} breath made little clouds in the cold, clean air.",
                   "The sky glowed pink and gold over the white hills."),
        "sounds": ("The snow went crunch, crunch, crunch with every step.",
                   "The wind sang a soft, whistling song.",
                   "Somewhere, a penguin honked a happy honk."),
        "snack": "a flask of hot cocoa",
        "facts": ("polar bears have black skin under their white fur, to soak up the warmth of the sun",
                  "every snowflake has six sides",
                  "penguins huddle together in a big group to stay warm"),
        "peril": ("The wind picked up, and the snow swirled so thick that {we} could hardly see.",
                  "{H} could not tell which way was up the mountain and which way was down."),
        "peril_end": ("{F} held on to {H}, and together {W} followed the line of tall pines until the snow "
                      "settled.",),
        "stakes": ("With a deep crack, the ice beneath {us} split apart.",
                   "{F} slid toward the freezing water, and {H} grabbed on just in time."),
        "stakes_end": ("{W} crawled back onto thick ice, shivering, and did not let go of each other for a long, "
                       "long time.",),
    },
    "sky": {
        "words": ("sky", "clouds", "cloud", "rainbow", "heavens"),
        "stations": (("the fluffiest cloud", "on"), ("the rainbow bridge", "on"), ("the cave of the wind", "by"),
                     ("the cloud garden", "in"), ("the sunbeam slide", "by"), ("the puddle of starlight", "beside"),
                     ("the kite meadow", "in"), ("the misty valley", "in")),
        "summit": ("the highest cloud", "on top of", "up onto"),
        "helpers": (("a friendly kite", "the kite", "the kite"),
                    ("a flock of swallows", "the swallows", "the smallest swallow"),
                    ("a sleepy cloud", "the cloud", "the cloud"), ("a cheerful breeze", "the breeze", "the breeze"),
                    ("a gentle hot air balloon", "the balloon", "the balloon"),
                    ("a wise old eagle", "the eagle", "the eagle")),
        "companion": ("Puff", "a small, fluffy cloud", "he", "cloud"),
        "sights": ("The clouds were as soft and white as cotton candy.",
                   "Far below, the fields looked like a patchwork quilt.",
                   "Sunbeams slid down between the clouds like golden ribbons.",
                   "A rainbow arched across the sky, close enough to touch."),
        "sounds": ("The wind whooshed and whistled past.",
                   "Birds called to each other across the wide blue sky.",
                   "The air smelled fresh and clean, like washing on a line."),
        "snack": "some cloudberry jam sandwiches",
        "facts": ("clouds are made of billions of tiny drops of water",
                  "a rainbow appears when sunlight shines through raindrops",
                  "some birds can sleep while they fly"),
        "peril": ("A gray cloud rumbled, and a gust of wind sent {us} tumbling sideways.",
                  "{H} grabbed a handful of cloud and held on."),
        "peril_end": ("Soon the wind calmed down again, and {W} laughed with relief.",),
        "stakes": ("The cloud beneath {us} began to thin and fall apart.",
                   "{H} looked down at the long, long drop and held on with everything {he} had."),
        "stakes_end": ("{F} grabbed {Hs} hand and pulled, and {W} tumbled onto a thicker cloud just as the old one "
                       "melted away.",),
    },
    "desert": {
        "words": ("desert", "canyon", "dunes", "dune", "savanna", "savannah", "oasis"),
        "stations": (("the tall cactus", "by"), ("the red rocks", "among"), ("the sand dunes", "over"),
                     ("the oasis", "at"), ("the dry riverbed", "along"), ("the shady canyon", "in"),
                     ("the old well", "by"), ("the windy plain", "across")),
        "summit": ("the highest dune", "at the top of", "up to the top of"),
        "helpers": (("a wise old tortoise", "the tortoise", "the tortoise"),
                    ("a chatty lizard", "the lizard", "the lizard"),
                    ("a friendly camel", "the camel", "the camel"),
                    ("a family of meerkats", "the meerkats", "the littlest meerkat"),
                    ("a tiny fennec fox with enormous ears", "the fennec fox", "the fennec fox"),
                    ("a speedy roadrunner", "the roadrunner", "the roadrunner")),
        "companion": ("Sandy", "a friendly camel", "she", "camel"),
        "sights": ("The sand stretched out in golden waves as far as {we} could see.",
                   "Tall cacti stood like green giants with their arms in the air.",
                   "The rocks glowed orange and red in the sun.",
                   "At night, the sky filled with more stars than grains of sand."),
        "sounds": ("The wind hissed softly over the dunes.",
                   "A lizard went scritch, scratch across a rock.",
                   "The warm air smelled of dust and sage."),
        "snack": "some sweet dates",
        "facts": ("a camel's hump stores fat, not water",
                  "a cactus stores water inside its thick stem",
                  "desert nights can be very cold, even after a hot day"),
        "peril": ("A wall of sand came rolling across the plain, and the wind began to howl.",
                  "{W} huddled behind a big rock and covered {our} eyes."),
        "peril_end": ("When the sand settled, the sky was blue again, and {W} shook {ourselves} off and laughed.",),
        "stakes": ("The sun beat down, {our} water was gone, and the oasis was still far away.",
                   "Every step was harder than the last, and {H} knew {we} could not go on like this for long."),
        "stakes_end": ("Then {F} spotted a ring of green on the horizon, and {W} stumbled the last of the way to "
                       "the water.",),
    },
    "candy": {
        "words": ("candy", "sweets", "chocolate", "gingerbread", "lollipop", "sugar", "cake"),
        "stations": (("the chocolate river", "by"), ("the gumdrop hills", "over"), ("the lollipop forest", "in"),
                     ("the marshmallow meadow", "in"), ("the candy cane bridge", "on"),
                     ("the gingerbread houses", "among"), ("the jelly bean fields", "in"),
                     ("the cupcake castle", "near")),
        "summit": ("the tallest gumdrop mountain", "at the top of", "up to the top of"),
        "helpers": (("a friendly gingerbread man", "the gingerbread man", "the gingerbread man"),
                    ("a jolly gumdrop", "the gumdrop", "the gumdrop"),
                    ("a wise old peppermint", "the peppermint", "the peppermint"),
                    ("a cheerful cupcake", "the cupcake", "the cupcake"),
                    ("a chatty jelly bean", "the jelly bean", "the jelly bean"),
                    ("a family of marshmallow bunnies", "the marshmallow bunnies", "the littlest bunny")),
        "companion": ("Sprinkles", "a cheerful cupcake", "she", "cupcake"),
        "sights": ("The hills were made of gumdrops, and the trees were giant lollipops.",
                   "A chocolate river flowed by, smooth and sweet.",
                   "Candy canes stood in rows like a red and white fence.",
                   "Sprinkles fell from the sky like tiny rainbow raindrops."),
        "sounds": ("Bubbles of warm syrup went blip, blop, blip.",
                   "The candy canes tinkled like bells in the breeze.",
                   "The air smelled of sugar and vanilla."),
        "snack": "a handful of jelly beans",
        "facts": ("chocolate is made from the seeds of the cacao tree",
                  "honey never goes bad, even after thousands of years",
                  "the first candy canes were straight, without the hook"),
        "peril": ("The sun grew hot, and the chocolate path began to melt into a sticky, gooey puddle.",
                  "{Hs} feet stuck fast, squelch, squelch!"),
        "peril_end": ("{W} hopped from one hard candy to the next until {we} reached solid ground.",),
        "stakes": ("The chocolate river rose over its banks in a thick, fast wave and swept the bridge away.",
                   "{W} {were} stranded on the wrong side, and the wave was still rising."),
        "stakes_end": ("{W} climbed the tallest gumdrop and waited until the chocolate slowly set, then picked "
                       "{our} way back across.",),
    },
    "home": {
        "words": ("bedroom", "house", "home", "kitchen", "attic", "basement", "treehouse", "tree house", "cottage",
                  "dollhouse", "playroom", "nursery", "toy shop", "toy store", "bed"),
        "stations": (("the kitchen", "in"), ("the big armchair", "behind"), ("the toy box", "by"),
                     ("the attic", "up in"), ("the garden shed", "in"), ("the window seat", "on"),
                     ("the tall bookshelf", "by"), ("the laundry basket", "beside")),
        "summit": ("the very top of the stairs", "at", "up to"),
        "helpers": (("a wise old teddy bear", "the teddy bear", "the teddy bear"),
                    ("a busy little mouse", "the mouse", "the mouse"), ("a sleepy cat", "the cat", "the cat"),
                    ("a cheerful toy robot", "the toy robot", "the toy robot"),
                    ("a chatty parrot", "the parrot", "the parrot"),
                    ("a grand old clock", "the clock", "the clock")),
        "companion": ("Buttons", "a wise old teddy bear", "he", "teddy bear"),
        "sights": ("The house was warm and full of soft cushions.",
                   "Sunlight made bright squares on the wooden floor.",
                   "Piles of books leaned against each other like sleepy friends.",
                   "Outside the window, the garden was full of flowers."),
        "sounds": ("The clock in the hall went tick, tock, tick.",
                   "The kettle whistled a happy little tune.",
                   "The kitchen smelled of cinnamon and warm toast."),
        "snack": "some warm cookies",
        "facts": ("the teddy bear is named after a president called Teddy Roosevelt",
                  "bread rises because of tiny living things called yeast",
                  "a cat spends about two thirds of its life asleep"),
        "peril": ("The lights flickered and went out, and the old house creaked in the wind.",
                  "{H} held {his} breath."),
        "peril_end": ("Then {F} found a flashlight, and its warm little circle of light made everything feel cozy "
                      "again.",),
        "stakes": ("With a bang, an old pipe burst, and water rushed across the floor.",
                   "If {we} did not stop it soon, it would reach everything {we} had worked so hard for."),
        "stakes_end": ("{W} found the big tap and turned it, hard, with all {our} strength, until the water stopped "
                       "at last.",),
    },
    "meadow": {
        "words": ("meadow", "field", "farm", "barn", "garden", "park", "backyard", "yard", "playground", "prairie",
                  "hill", "hills", "valley", "pond", "river", "farmhouse", "windmill", "countryside", "swamp"),
        "stations": (("the duck pond", "by"), ("the big red barn", "behind"), ("the sunflower field", "in"),
                     ("the old stone wall", "along"), ("the vegetable patch", "in"), ("the wooden bridge", "on"),
                     ("the apple tree", "under"), ("the windmill", "by")),
        "summit": ("the grassy hill", "at the top of", "up to the top of"),
        "helpers": (("a cheerful cow", "the cow", "the cow"), ("a busy bumblebee", "the bee", "the bee"),
                    ("a family of rabbits", "the rabbits", "the littlest rabbit"),
                    ("a wise old goat", "the goat", "the goat"), ("a chatty hen", "the hen", "the hen"),
                    ("a sleepy old dog", "the dog", "the dog")),
        "companion": ("Clover", "a cheerful little lamb", "she", "lamb"),
        "sights": ("The grass was soft and green, and daisies nodded in the breeze.",
                   "Butterflies floated from flower to flower like tiny kites.",
                   "Fluffy white clouds drifted across a big blue sky.",
                   "The air smelled of clover and warm sunshine."),
        "sounds": ("Bees hummed a busy little song.",
                   "Somewhere, a cow mooed a slow, happy moo.",
                   "The grass rustled and swished in the breeze."),
        "snack": "some crunchy apples",
        "facts": ("bees visit thousands of flowers to make just one spoonful of honey",
                  "a cow's stomach has four parts",
                  "young sunflowers turn to follow the sun across the sky"),
        "peril": ("Dark clouds rolled over the hill, and fat raindrops began to fall.",
                  "{W} ran for the old barn, splashing through the puddles."),
        "peril_end": ("Inside it was dry and warm, and soon the rain drummed more softly on the roof and then "
                      "stopped.",),
        "stakes": ("The storm came fast. Lightning split the sky, and the wind tore across the field so hard that "
                   "{H} could barely stand.",
                   "The river was rising, and it was heading straight for the little homes by the water."),
        "stakes_end": ("{W} ran from house to house, warning everyone, and by the time the water rose, all the "
                       "little homes were empty and safe.",),
    },
    "anywhere": {
        "words": (),
        "stations": (("the winding path", "along"), ("the big old tree", "under"), ("the little bridge", "on"),
                     ("the quiet corner", "in"), ("the sunny spot", "in"), ("the bend in the road", "at"),
                     ("the tall gate", "by"), ("the flower bed", "by")),
        "summit": ("the highest hill around", "at the top of", "up to the top of"),
        "helpers": (("a wise old owl", "the owl", "the owl"), ("a friendly dog", "the dog", "the dog"),
                    ("a chatty bird", "the bird", "the bird"), ("a kind old tortoise", "the tortoise", "the tortoise"),
                    ("a busy bumblebee", "the bee", "the bee"),
                    ("a cheerful squirrel", "the squirrel", "the squirrel")),
        "companion": ("Olive", "a wise old owl", "she", "owl"),
        "sights": ("Everything was bright and full of little surprises.",
                   "The sky was wide and blue, with a few fluffy clouds.",
                   "Flowers peeked out from every corner.",
                   "The sunshine made everything glow."),
        "sounds": ("Birds sang a cheerful morning song.",
                   "A soft breeze carried the smell of flowers.",
                   "Somewhere far off, bells were ringing."),
        "snack": "some crunchy apples",
        "facts": ("a group of owls is called a parliament",
                  "bees talk to each other by dancing",
                  "the sun is a star, the closest one to us"),
        "peril": ("A gust of wind came out of nowhere, and the path ahead went gray and misty.",
                  "{H} could not see where to go next."),
        "peril_end": ("Then the wind blew the mist away, and the path was right there, waiting for {us}.",),
        "stakes": ("The bridge ahead had washed away, and the only other way was long and steep.",
                   "If {we} did not make it before nightfall, it would be too late."),
        "stakes_end": ("So {W} took the long, steep way, and {our} legs ached with every step, but {we} did not "
                       "stop.",),
    },
}

DEFAULT_SETTING = "a cozy meadow"

# Settings said without an article that read as names ("on Mars", "in space").
BARE_PLACES = frozenset({"space", "outer space", "mars", "venus", "jupiter", "saturn", "antarctica", "wonderland",
                         "fairyland", "dreamland", "candy land"})

# --- characters -------------------------------------------------------------------------------------

# Heroes for a story with no characters: (name, description, pronoun, kind).
DEFAULT_HEROES = (
    ("Pip", "a brave little fox", "he", "fox"),
    ("Hazel", "a kind little hedgehog", "she", "hedgehog"),
    ("Bo", "a cheerful bunny", "he", "bunny"),
    ("Luna", "a curious little owl", "she", "owl"),
    ("Biscuit", "a friendly puppy", "he", "puppy"),
    ("Daisy", "a gentle little duck", "she", "duck"),
)

FEMININE_WORDS = frozenset("""
girl princess queen mom mum mommy mummy mama grandma granny grandmother nana sister daughter aunt auntie lady
woman mermaid witch ballerina cowgirl lioness hen fairy she her herself empress duchess niece granddaughter
""".split())
MASCULINE_WORDS = frozenset("""
boy prince king dad daddy papa grandpa grandad grandfather brother son uncle man merman wizard cowboy rooster
he him his himself emperor duke nephew grandson knight
""".split())
FEMININE_NAMES = frozenset("""
luna mia emma olivia ava sophia isabella lily ella chloe zoe grace rosie rose daisy ruby stella nova coral olive
hazel ivy willow poppy maya nora lucy alice clara sara sarah anna hannah emily amelia charlotte harper abigail
layla aria penny molly sophie holly bella millie matilda elsa isla freya evie lola sadie clover shelly pepper
kiki sandy sprinkles amy anne jane mary lisa julia laura elena sofia camila valentina lucia martina paula eva
leah zara jasmine priya aisha fatima mei yuki hana sakura ellie belle maisie ada iris violet pearl
""".split())
MASCULINE_NAMES = frozenset("""
max leo sam tom jack oliver milo finn ben noah liam lucas ethan henry theo oscar charlie harry george arthur
felix hugo jake toby percy james john david daniel michael william alex adam luke ryan owen jacob mateo diego
pablo carlos luis omar ali arjun ravi kenji hiro buttons biscuit bo pip bramble rex spike rocky bruno
""".split())

# What a kind of character is good at, for the big moment: (kinds, past-tense verb phrase).
ABILITIES = (
    (("dragon",), "puffed out a long, warm, glowing breath"),
    (("fox", "arctic fox"), "darted ahead on quick, quiet paws"),
    (("cat", "kitten", "kitty"), "tiptoed along without making a single sound"),
    (("dog", "puppy", "pup"), "sniffed out the way with {xhis} clever nose"),
    (("bunny", "rabbit"), "hopped up high to see over everything"),
    (("bear", "teddy bear", "polar bear", "panda", "koala"), "lifted the heavy things with {xhis} strong arms"),
    (("owl", "eagle", "bird", "parrot", "crow", "pigeon", "puffin", "swan", "goose", "duck", "duckling", "chick",
      "hen", "flamingo", "phoenix"), "flew up high to look all around"),
    (("mouse", "hamster", "mole"), "squeezed through the tiniest gap"),
    (("elephant",), "reached up high with {xhis} long trunk"),
    (("giraffe",), "stretched {xhis} long neck to see over everything"),
    (("robot",), "beeped, whirred, and worked out the answer in a flash"),
    (("unicorn",), "made {xhis} horn glow with a soft rainbow light"),
    (("fairy", "pixie", "sprite"), "sprinkled a pinch of sparkling fairy dust"),
    (("wizard", "witch", "sorcerer", "magician", "genie"), "waved {xhis} wand and whispered a little spell"),
    (("mermaid", "merman", "fish", "dolphin", "whale", "seal", "otter", "turtle", "sea turtle", "octopus", "orca",
      "narwhal", "seahorse", "walrus"), "swam swiftly through the water and back"),
    (("monkey", "gorilla", "sloth", "squirrel"), "climbed up the tallest tree in a flash"),
    (("penguin",), "slid along on {xhis} tummy, whoosh"),
    (("astronaut", "explorer", "scientist", "inventor"), "studied everything carefully and made a clever plan"),
    (("detective",), "looked closely at every little clue"),
    (("knight", "prince", "princess", "king", "queen", "captain", "pirate"), "stood tall and showed everyone the way"),
    (("giant", "yeti"), "took great giant steps over everything in the way"),
    (("dinosaur", "t-rex"), "stomped ahead with great big steps"),
    (("horse", "pony", "zebra", "deer", "fawn", "reindeer", "cheetah", "leopard", "lion", "tiger"),
     "galloped ahead as fast as the wind"),
    (("frog", "toad", "kangaroo", "grasshopper"), "made one enormous jump"),
    (("bee", "bumblebee", "butterfly", "ladybug", "ladybird", "firefly", "dragonfly"),
     "zipped through the air to look around"),
    (("snail", "tortoise", "hedgehog"), "kept going slowly and steadily, never giving up"),
    (("cloud",), "floated up high and looked around"),
    (("cupcake", "gingerbread man", "snowman", "doll", "toy"), "cheered everyone on with a great big smile"),
)
# When the kind says nothing, an adjective of the description may: (adjective, verb phrase).
ADJECTIVE_ABILITIES = (
    ("brave", "went first, even though it was hard"), ("bold", "went first, even though it was hard"),
    ("clever", "thought of a clever trick"), ("smart", "thought of a clever trick"),
    ("kind", "helped everyone feel calm and brave"), ("gentle", "helped everyone feel calm and brave"),
    ("funny", "made everyone laugh, and the laughing made them strong"),
    ("silly", "made everyone laugh, and the laughing made them strong"),
    ("strong", "lifted the heaviest things"), ("fast", "ran ahead to check the way"),
    ("speedy", "ran ahead to check the way"), ("curious", "noticed the one thing everyone else had missed"),
    ("wise", "remembered exactly the right thing at the right time"),
)
DEFAULT_ABILITY = "did {xhis} very best to help"

# --- storytellers -------------------------------------------------------------------------------------

# How a third-person story begins, per persona ({in_a_place} is the setting, {hero_intro} "a brave little fox
# named Pip").
OPENINGS = {
    "CHILDRENS_BOOK_AUTHOR": ("Once upon a time, {in_a_place}, there lived {hero_intro}.",
                              "{In_a_place}, there lived {hero_intro}."),
    "FAIRY_TALE_TELLER": ("Once upon a time, long ago and far away, {in_a_place}, there lived {hero_intro}.",),
    "BEDTIME_STORYTELLER": ("Snuggle down, little one, and listen. {In_a_place}, there lived {hero_intro}.",),
    "FANTASY_AUTHOR": ("{In_a_place}, where a little magic hid in every corner, there lived {hero_intro}.",),
    "SCIENCE_FICTION_AUTHOR": ("Far in the future, {in_a_place}, there lived {hero_intro}.",),
    "MYSTERY_WRITER": ("Every mystery begins with a small surprise. This one began {in_a_place}, with "
                       "{hero_intro}.",),
    "ADVENTURE_WRITER": ("Some adventures begin with a map, and some begin with a knock at the door. This one "
                         "began {in_a_place}, with {hero_intro}.",),
    "HUMORIST": ("This is the story of {hero_intro}, who lived {in_a_place} and was about to have a very silly "
                 "day.",),
    "POET": ("Once upon a time, {in_a_place}, there lived {hero_intro}.",),
    "HISTORICAL_FICTION_AUTHOR": ("Long, long ago, before there were cars or telephones, {in_a_place}, there "
                                  "lived {hero_intro}.",),
    "EDUCATOR": ("Once upon a time, {in_a_place}, there lived {hero_intro}.",),
}

# The last line, per persona; endings that are not closed (OPEN) use OPEN_CLOSINGS instead.
CLOSINGS = {
    "CHILDRENS_BOOK_AUTHOR": ("The end.",),
    "FAIRY_TALE_TELLER": ("And they all lived happily ever after. The end.",),
    "BEDTIME_STORYTELLER": ("And now it is time for you to close your eyes, too. Goodnight, little one.",),
    "FANTASY_AUTHOR": ("And the magic of that day never quite faded. The end.",),
    "SCIENCE_FICTION_AUTHOR": ("End of transmission.",),
    "MYSTERY_WRITER": ("Case closed. The end.",),
    "ADVENTURE_WRITER": ("And that was the greatest adventure of all, until the next one. The end.",),
    "HUMORIST": ("The end. Well, almost. Okay, now it is really the end.",),
    "POET": ("And that is where our story ends,\nwith open hearts and loyal friends.",),
    "HISTORICAL_FICTION_AUTHOR": ("And people still tell this story, even today. The end.",),
    "EDUCATOR": ("What did you learn from this story? Maybe you can tell someone about it. The end.",),
}
NOT_EVER_AFTER = "And that is the end of the tale."
OPEN_CLOSINGS = ("What do you think happened next? The end, for now.",
                 "But that is a story for another day.")

# First- and second-person stories open with a frame, per persona (third-person ones use OPENINGS).
PERSONAL_FRAMES = {
    "BEDTIME_STORYTELLER": "Snuggle down, little one, and listen.",
    "MYSTERY_WRITER": "Every mystery begins with a small surprise.",
    "ADVENTURE_WRITER": "Some adventures begin with a map, and some begin with a knock at the door.",
}
# A sentence of the persona's flavor in the middle scenes.
PERSONA_FLAVOR: dict[str, tuple[str, ...]] = {
    "MYSTERY_WRITER": ("{H} made a careful note of it. Every clue mattered.",
                       "It was a clue, {H} {was} sure of it.",
                       "Something did not add up, and {H} meant to find out what."),
    "ADVENTURE_WRITER": ("Adventure was calling, and {W} answered.",
                         "The path ahead was long, and {W} loved every step.",
                         "Nothing worth finding is ever easy to find."),
    "SCIENCE_FICTION_AUTHOR": ("{Hs} little gadget beeped and blinked: keep going.",
                               "The scanner hummed and showed a bright green dot ahead.",
                               "\"Recalculating,\" said {Hs} pocket computer, helpfully."),
    "FANTASY_AUTHOR": ("The air shimmered, just a little, the way it does when magic is near.",
                       "Somewhere, a spell was waiting to be spoken.", "Old magic hummed softly under {our} feet."),
    "HISTORICAL_FICTION_AUTHOR": ("In those days, news traveled only as fast as feet could carry it.",
                                  "Back then, there were no maps in pockets, only the stars and good advice.",
                                  "People in those days knew how to read the sky like a book."),
    "FAIRY_TALE_TELLER": ("And as everyone knows, good things come in threes.",
                          "For in stories like this one, kindness is always remembered.",
                          "The wind carried the news from tree to tree."),
    "BEDTIME_STORYTELLER": ("Everything was quiet and soft, like a blanket at the end of the day.",
                            "A gentle breeze hummed a sleepy tune.", "The sky was turning the color of warm milk."),
}

# --- the beats -----------------------------------------------------------------------------------------
# Third-person intros use OPENINGS; first and second person use these (present tense, then the story).

INTRO_FIRST = ("My name is {Hname}, and I am {hero_desc}. I live {in_a_place}, and this is my story.",
               "Hello! I am {Hname}, {hero_desc}, and I live {in_a_place}. Let me tell you what happened.")
INTRO_FIRST_UNNAMED = ("I am {hero_desc}, and I live {in_a_place}. Let me tell you what happened.",)
INTRO_SECOND = ("Once upon a time, you were {hero_desc} named {Hname}, and you lived {in_a_place}.",
                "Long ago, you were {hero_desc} named {Hname}, and you lived {in_a_place}.")
INTRO_SECOND_UNNAMED = ("Once upon a time, you were {hero_desc}, and you lived {in_a_place}.",)
INTRO_LITTLE_THIRD = ("Once upon a time, there was {hero_desc}. {His} name was {Hname}. {He} lived {in_a_place}.",)
INTRO_LITTLE_THIRD_UNNAMED = ("Once upon a time, there was {hero_desc}. {He} lived {in_a_place}.",)
INTRO_LITTLE_FIRST = ("My name is {Hname}. I am {hero_desc}. I live {in_a_place}. This is my story.",)
INTRO_LITTLE_SECOND = ("Once upon a time, you were {hero_desc}. Your name was {Hname}. You lived {in_a_place}.",)
# The hero's friends: "{friend}" is "Ember, a friendly dragon".
FRIEND_ONE_THIRD = ("{Hs} best friend was {friend}.", "{Hs} very best friend in the whole world was {friend}.")
FRIEND_ONE_PERSONAL = ("{Hs} best friend is {friend}.", "{Hs} very best friend in the whole world is {friend}.")
FRIENDS_THIRD_HEAD = "{Hname} had {count} good friends."
FRIENDS_PERSONAL_HEAD = "I have {count} good friends."
FRIENDS_SECOND_HEAD = "You had {count} good friends."
FRIEND_LINE = ("There {be} {friend}.", "And there {be} {friend}.")
# The child hearing the story is the hero.
INTRO_LISTENER = ("Once upon a time, there was a child who lived {in_a_place}. And that child was you!",)

# The problem is discovered, a friend joins, the stakes (per rating), and off they go.
TO_THE_RESCUE = (
    "\"We have to help,\" said {F}.",
    "\"Then let's go,\" said {F}. \"Together.\"",
    "{F} nodded. \"I will come with you,\" {fhe} said.",
)
SET_OFF = (
    "L:So off {W} went.",
    "R:And so {W} set off to {goal}.",
    "So off {W} went, to {goal}.",
    "There was only one thing to do: {goal}.",
)

# Ordinals for the attempts: "First,", "Next,"...
ORDINALS = ("First", "Next", "After that", "Then", "Later", "After a while", "Soon")
ARRIVE = (
    "{Ord}, {W} went to {station}.",
    "{Ord}, {W} hurried over to {station}.",
    "{Ord}, {W} made {our} way to {station}[, talking and wondering all the way].",
    "{Ord}, {W} came to {station}.",
    "{Ord}, {W} tiptoed over to {station}.",
    "{Ord}, {W} followed the path to {station}.",
    "{Ord}, {W} wandered down to {station}[, stopping now and then to look around].",
)
MEET = (
    "There, {W} met {helper}.",
    "Just then, along came {helper}.",
    "Sitting {at_station} was {helper}.",
    "R:{W} had not gone far when {we} met {helper}.",
    "Who should be there but {helper}!",
    "Suddenly, {W} heard a friendly voice. It was {helper}.",
)
HINT = (
    "\"{hint}\" said {speaker}.",
    "{Speaker} thought for a moment. \"{hint}\" {xhe} said.",
    "\"{hint}\" {speaker} told {Wo}[ with a friendly smile].",
)
THANKS = (
    "\"Thank you!\" {H} said.",
    "{W} said thank you[ and waved goodbye].",
    "\"What a good idea,\" said {F}.",
)
COMPANION_JOINS = (
    "R:That was how {H} met {companion}. \"I will help you,\" said {Companion}, and from then on, {W} were "
    "friends.",
    "L:That was how {H} met {companion}. \"I will help you,\" said {Companion}.",
)
# A moment to breathe between attempts, for long stories.
INTERLUDES = (
    ("A Little Rest", "stop for a snack", "stopping for a little rest and a snack",
     ("{Ord}, {W} stopped {at_station} for a little rest.",
      "{F} shared {snack}, and nothing had ever tasted so good.",
      "[{W} sat side by side and watched the world go by for a while. ]Then {W} {were} ready to go on.")),
    ("A Walking Song", "sing a walking song", "singing a walking song together",
     ("{Ord}, to keep {our} spirits up, {W} sang a little walking song.",
      "\"One step, two steps, on we go, over the high and under the low!\"",
      "Before long, even {the_helper} was humming along.")),
    ("The Stepping Stones", "cross a stream on stepping stones", "hopping across a stream on stepping stones",
     ("{Ord}, {W} came to a wide, splashy stream {at_station}.",
      "{F} found a row of stepping stones, and {W} hopped across, one, two, three, four.",
      "{H} wobbled on the last stone, but {F} held out a helping hand.")),
    ("Oops!", "take a tumble and laugh about it", "laughing after a silly tumble",
     ("{Ord}, {H} tripped over {his} own feet and landed, plop, right on {his} bottom.",
      "For a moment nobody said anything. Then everyone burst out laughing, {H} loudest of all.",
      "[Laughing together made the journey feel much shorter.]")),
)
# The low point before the big idea, per rating.
LOW = {
    "G": ("By now, {W} {were} tired, and the sun was sinking low.",
          "{H} sat down and sighed. \"Maybe it is too hard,\" {he} said quietly.",
          "{F} sat down too. \"We are not giving up,\" {fhe} said. \"Not yet.\""),
    "PG": ("By now, {W} {were} tired and cold, and the sky was growing dim.",
           "{H} sat down on a stone, and for the first time, {he} felt a little afraid that {we} would not "
           "manage it.",
           "{F} squeezed {his} hand. \"We have come this far,\" {fhe} said. \"We can go a little farther.\""),
    "PG_13": ("Night was falling fast, and {W} had nothing left to try.",
              "{H} thought about what would happen if {we} failed: {stakes_short}. The thought sat on {his} chest "
              "like a stone.",
              "\"Listen,\" said {F} quietly. \"We are scared. That is all right. Brave does not mean not scared.\""),
}
IDEA = (
    "Suddenly, {H} had an idea.",
    "Then {H} remembered what {the_first_helper} had said, and {he} had an idea.",
    "All at once, {H} knew exactly what to do.",
)

# Moods by beat, per tone; the low and the peril change with the rating.
INTRO_MOOD = {"CALM": "cozy", "HEARTWARMING": "cozy", "MYSTERIOUS": "mysterious"}
PROBLEM_MOOD = {"MYSTERIOUS": "mysterious", "SUSPENSEFUL": "tense", "SERIOUS": "calm", "FUNNY": "bright",
                "CALM": "calm"}
ENDING_MOOD = {"HAPPY": "joyful", "BITTERSWEET": "calm", "OPEN": "curious", "TWIST": "bright", "MORAL": "hopeful"}

# Scene titles for beats that do not name the problem.
ATTEMPT_TITLES = ("{Station}", "{At_station}", "A Visit to {Station}", "Help from {Helper_title}")
LOW_TITLES = ("Almost Giving Up", "A Hard Moment", "Not Yet")

# Endings. Each adds a generic sentence or two around the problem's own lines.
HAPPY = (
    "Everyone cheered and hugged and danced, and {H} laughed until {his} sides ached.",
    "{W} laughed and cheered, and it was the happiest day {we} could remember.",
)
# A happy ending for calm and bedtime stories: no dancing before sleep.
HAPPY_CALM = ("Everything was peaceful and right again, and everyone gave a soft, sleepy cheer.",)
BITTERSWEET = (
    "It was a little sad, and it was also good. {H} found that a heart can feel both at once.",
)
TWIST = ("What a surprise! Nobody had guessed it, not even {Ho}.",)
MORAL = ("And so {W} learned {lesson}.", "That day, {W} learned {lesson}.")
OPEN = ("{H} looked at {F}, and {F} looked at {Ho}.", "{H} smiled. Tomorrow would be another adventure.")

# Comic asides (funny tones, humorous styles and the humorist).
ASIDES = (
    "Somewhere nearby, a snail laughed so hard it fell off its leaf.",
    "A passing goose honked, which did not help at all.",
    "It was, everyone agreed, the silliest thing that had happened all week.",
    "{F} said this was a perfectly normal thing to happen. It was not.",
    "A worm poked its head out of the ground, looked around, and went straight back in.",
    "If you listen very carefully, you can still hear the giggles.",
    "That is the kind of day it was.",
    "Nobody was quite sure what happened next, but it involved a lot of sneezing.",
)
# Longer, reflective sentences for teens and adults (and descriptive styles for older children).
REFLECTIONS = (
    "{H} turned the problem over and over in {his} mind, the way you turn a smooth pebble over in your pocket, "
    "looking for the side that makes sense.",
    "It is a funny thing about hope: it grows quietly, like moss on a stone, until one day you notice that it is "
    "everywhere.",
    "For a while nobody spoke, and the silence was the comfortable kind, the kind that only good friends can share.",
    "Somewhere deep down, {H} had a feeling that the answer was closer than it seemed, the way the end of a rainbow "
    "always looks just one more hill away.",
    "There are days that feel ordinary right up until the moment they are not, and this, {H} was beginning to "
    "understand, was one of them.",
    "The light changed slowly around {us}, soft and golden, as if the whole world were waiting to see what would "
    "happen next.",
    "It was the kind of moment that {H} would remember for a long time afterwards, although {he} could not yet have "
    "said why.",
    "Every step seemed to carry {us} a little further from the ordinary world and a little closer to something {we} "
    "did not yet have a name for.",
    "{H} noticed, not for the first time, how much braver everything felt with a friend close by.",
    "Small things, {H} thought, have a way of turning out to matter most of all, if only you give them the chance.",
    "There is a particular kind of quiet that comes just before a good idea, and {H} could feel it settling in.",
    "Looking back, {H} would say that this was where the story really began, though at the time it felt like "
    "nothing more than a long and puzzling day.",
)
# Casual asides for the casual style.
CASUAL_ASIDES = ("Pretty wild, right?", "No kidding.", "Seriously, what a day.", "Wild, huh?")
# Omniscient narration: what others think.
OMNISCIENT = (
    "What {H} did not know was that {F} was worried too, though {fhe} did not say so.",
    "Far away, someone else was hoping {W} would hurry.",
    "{F} was secretly thinking that {H} {was} the bravest friend anyone could have.",
    "Even {the_helper} was quietly wishing {us} luck.",
    "If {W} could have seen what was waiting at the end, {we} would have smiled.",
)
# Rhymes for poetic styles, by beat ({spot} and {w}-placeholders keep them true for every point of view).
COUPLETS = {
    "intro": ("In {spot}, where the soft winds play,\na brand new story began that day.",
              "Under the sky so wide and blue,\nthis is a tale of friends so true."),
    "problem": ("Something was wrong, something was new,\nand nobody knew quite what to do.",
                "Oh dear, oh my, what a thing to see,\nwhat could the answer possibly be?"),
    "attempt": ("{We} looked up high, {we} looked down low,\n{we} looked in every place {we} could go.",
                "Over the hill and around the bend,\nit is always better to go with a friend.",
                "Try and try and try once more,\nthat is what good friends are for.",
                "Little by little and bit by bit,\n{we} would not stop, {we} would not quit.",
                "Left foot, right foot, on {we} went,\nfull of hope and good intent.",
                "Sometimes a plan goes a little askew,\nso you find another, and try that too."),
    "low": ("When a day is long and the way is tough,\na friend by your side is more than enough.",),
    "climax": ("Step by step and side by side,\n{we} gave it all and {we} really tried.",
               "Now was the moment, now was the time,\nfor one more try, one more climb."),
    "ending": ("And all was well beneath the sky,\nas the happy day went drifting by.",
               "So ends the day, and so ends the tale,\nof friends who tried and did not fail."),
}

# How the outline sums up the ending (present tense, third person).
ENDING_SUMMARY = {
    "HAPPY": "All is well, and everyone celebrates together.",
    "BITTERSWEET": "It ends gently, a little sad and a little happy: {bitter_summary}",
    "OPEN": "All is well, for now, but something new begins: {hook_summary}",
    "TWIST": "And then, a surprise: {twist_summary}",
    "MORAL": "All is well, and {Hname} {learns} {lesson}.",
}

# --- problems ------------------------------------------------------------------------------------------
# A story's plot. `tones` are the tones it suits; `keywords` pick it when the plot elements name them.
# Sentences are past tense; `premise`, `goal` and the *_summary fields are present-tense clauses for the
# premise and the outline. `stakes` grow with the content rating; `stakes_short` is what failing would
# mean (PG_13 only). `methods` are the attempts, in order: (what they try, as a gerund, for the outline;
# the sentences). `hints` are what the folk met on the way say (one per attempt). `pictures`: what the
# illustration shows for the introduction, the problem, the big moment and the ending.
# Extra characters: {N} is one of `guests` (a newcomer, a birthday guest, or the friend who moves away).

PROBLEMS: dict[str, dict[str, object]] = {
    "star": {
        "tones": ("WHIMSICAL", "CALM"),
        "keywords": ("star", "stars", "wish", "wishes", "shooting star"),
        "title": "{Name} and the Fallen Star",
        "premise": "{Hname} finds a little star that has tumbled out of the sky and is too tired to fly home",
        "goal": "help the little star get home to the sky",
        "routine": "Every night, {W} liked to look up and wish the stars goodnight.",
        "discover": ("One morning, {H} found something glowing under a leaf.",
                     "It was a little star! [It was no bigger than an acorn, and ]it had tumbled out of the sky "
                     "in the night.",
                     "\"I want to go home,\" the star whispered. \"But I am too tired to fly.\""),
        "stakes": {"G": ("Without it, there would be a little gap in the sky tonight, right where it should be "
                         "twinkling.",),
                   "PG": ("Its light was already growing dim, and {H} knew it could not stay down here for long.",),
                   "PG_13": ("Its light was fading fast. By the third night, the old stories said, a fallen star "
                             "goes out forever.",)},
        "stakes_short": "the little star would go out forever",
        "methods": (
            ("tossing the star up high", ("{W} tried tossing the star up high.",
                                          "Up it went, and down it came again, plop, right back into the grass.")),
            ("building a tall tower of stones", ("{W} built a tower of stones, as tall as {we} could make it.",
                                                 "But the sky was still much, much higher, and the tower wobbled "
                                                 "and tumbled down.")),
            ("tying the star to a kite", ("{W} tied the star to a kite made of leaves and string.",
                                          "The kite climbed a little way, but then the wind grew tired too, and "
                                          "down it floated.")),
            ("singing the star a lullaby", ("{W} sang the star a soft lullaby, so it could rest and grow strong.",
                                            "The star glowed a little brighter, but it still could not fly.")),
        ),
        "hints": ("The higher you go, the closer the sky is.", "A star cannot fly in the daytime. Wait for the night.",
                  "Stars are made of wishes, you know.", "Wishes work best when friends make them together."),
        "climax": ("That night, {W} carried the little star all the way {to_summit}.",
                   "{W} looked up at the sky and made a wish, all together, as hard as {we} could."),
        "solved": "The little star began to glow, brighter and brighter, and then it floated up, up, up, all the way "
                  "back to its place in the sky.",
        "solved_summary": "the little star floats back up to its place in the sky",
        "happy": ("From then on, one little star twinkled brighter than all the rest, right above {place}.",
                  "It was saying thank you."),
        "bitter": ("{H} waved until {his} arm was tired. {H} would miss the little star and its tiny warm glow.",
                   "But every night after that, {he} could look up and see it twinkling, just for {him}."),
        "bitter_summary": "the little star is gone, but it twinkles down every night.",
        "twist": ("Then the strangest thing happened. A second star floated down, and a third, and then a whole sky "
                  "full of them, twinkling and giggling.",
                  "The little star had not fallen by accident at all. It had come down to find the kindest friends "
                  "in the world, and now all its brothers and sisters wanted to meet them too."),
        "twist_summary": "the little star fell on purpose, to find the kindest friends in the world.",
        "lesson": "that even the smallest light matters",
        "hook": ("But on the way home, {H} saw something else in the grass: another tiny glow, blinking on and off.",
                 "Was it another star? Or something else entirely?"),
        "hook_summary": "another tiny glow is blinking in the grass.",
        "titles": ("The Fallen Star", "Up, Up, Up", "A Star in Its Place"),
        "pictures": ("looking up at the twinkling stars", "finding a tiny glowing star in the grass",
                     "lifting a little glowing star toward the night sky",
                     "looking up at one bright star twinkling above them"),
    },
    "colors": {
        "tones": ("WHIMSICAL", "HEARTWARMING"),
        "keywords": ("color", "colors", "colour", "colours", "rainbow", "paint", "gray", "grey"),
        "title": "{Name} and the Lost Colors",
        "premise": "{Hname} wakes up to find that all the colors have disappeared from {place}",
        "goal": "find the lost colors and bring them home",
        "routine": "{W} loved the colors of {place} more than anything: the reds and the yellows and the blues.",
        "discover": ("But one morning, {H} woke up and rubbed {his} eyes.",
                     "Everything was gray! The flowers were gray, the sky was gray, and even the butterflies were "
                     "gray.",
                     "Only one tiny streak of red was left, and it pointed off into the distance like an arrow."),
        "stakes": {"G": ("Without colors, nobody felt much like playing or singing.",),
                   "PG": ("Without colors, everyone was growing quiet and sleepy, and even the birds had stopped "
                          "singing.",),
                   "PG_13": ("And the gray was spreading. Everything it touched grew cold and still, and by "
                             "tomorrow it would reach the last of the flowers.",)},
        "stakes_short": "the gray would swallow everything",
        "methods": (
            ("painting the flowers by hand", ("{W} found some old paint pots and tried to paint the flowers.",
                                              "But the paint was gray too, and it only made the gray flowers "
                                              "grayer.")),
            ("following the streak of red", ("{W} followed the little streak of red.",
                                             "It led to a single red berry, shining like a tiny lamp. {H} tucked it "
                                             "away safely.")),
            ("catching yellow from the sunshine", ("{W} climbed up high to catch some yellow from the sun.",
                                                   "A few yellow sparkles drifted down like dust, and {F} caught "
                                                   "them in a cup.")),
            ("finding the blue at the bottom of a puddle", ("{W} peered into a puddle.",
                                                            "Way down at the bottom, a little bit of blue was "
                                                            "hiding. {W} scooped it up with great care.")),
        ),
        "hints": ("Colors are shy. They hide when nobody laughs.", "Red is the bravest color. It will lead the way.",
                  "Every color you find wants to be with the others.", "Put them all together, and see what happens."),
        "climax": ("{W} carried the red, the yellow and the blue {to_summit} and put them all together.",
                   "Then {W} laughed, the way you laugh with your very best friends, and the colors began to "
                   "swirl."),
        "solved": "A great rainbow leapt across the sky, and all the colors came pouring back, into the flowers and "
                  "the trees and every single thing.",
        "solved_summary": "a rainbow brings all the colors pouring back",
        "happy": ("{Place} was brighter than it had ever been.", "{W} danced in the colors until {we} {were} dizzy."),
        "bitter": ("The colors came back to everything, except one little flower by the path, which stayed gray.",
                   "But {H} did not mind. It reminded {him} of the day the colors came home."),
        "bitter_summary": "one little flower stays gray, as a memory.",
        "twist": ("And then the rainbow spoke. \"Thank you,\" it said. \"I had lost my colors, and I was too shy to "
                  "ask for help.\"",
                  "It had been the rainbow all along, hiding in the gray, waiting for someone to laugh."),
        "twist_summary": "the rainbow had been hiding in the gray all along, too shy to ask for help.",
        "lesson": "that the world is brighter when we share our joy",
        "hook": ("But far away, on the other side of the hills, {H} noticed one more patch of gray.",
                 "Maybe the colors had a little more exploring to do."),
        "hook_summary": "one last patch of gray waits on the other side of the hills.",
        "titles": ("The Gray Morning", "All the Colors", "A Rainbow Day"),
        "pictures": ("playing among bright, colorful flowers", "standing in a world that has turned all gray",
                     "holding up drops of red, yellow and blue as a rainbow bursts out",
                     "dancing under a huge bright rainbow"),
    },
    "hat": {
        "tones": ("FUNNY",),
        "keywords": ("hat", "wind", "windy", "runaway"),
        "title": "{Name} and the Runaway Hat",
        "premise": "{Hname_pos} favorite hat blows away on a windy day and will not stop landing on other heads",
        "goal": "catch the runaway hat",
        "routine": "{H} had a favorite hat. It was tall and floppy, with a yellow feather on top, and {H} wore it "
                   "every single day.",
        "discover": ("One windy morning, whoooosh! A gust of wind snatched the hat right off {Hs} head.",
                     "It flew over the fence, bounced off a branch, and sailed away.",
                     "\"Come back, hat!\" {H} cried. But hats do not listen."),
        "stakes": {"G": ("And the big party was that very afternoon. {H} could not go without {his} hat!",),
                   "PG": ("And the wind was getting stronger. If {W} did not catch the hat soon, it would be blown "
                          "over the hills and far away.",),
                   "PG_13": ("And it was not just any hat. It had been {Hs} grandpa's, and it was the last thing "
                             "{he} had to remember him by.",)},
        "stakes_short": "the hat would be gone forever",
        "methods": (
            ("jumping to grab the hat", ("{W} saw the hat on top of a bush and jumped for it.",
                                         "Boing! The hat hopped away just in time, and {W} landed in the bush "
                                         "instead.")),
            ("tiptoeing up to it very quietly", ("The hat had landed right on top of {the_helper}, who looked very "
                                                 "pleased with it.",
                                                 "{W} tiptoed up, quiet as mice, but just then {the_helper} sneezed, "
                                                 "ah-choo, and off flew the hat again.")),
            ("catching it with a net", ("{W} made a net out of an old blanket and waited.",
                                        "The hat flew right toward it, then swerved, as if it were laughing, and "
                                        "flew the other way.")),
            ("pretending not to care", ("{F} had a sneaky idea. \"Let's pretend we don't want it!\"",
                                        "{W} whistled and looked at the sky. The hat crept closer, and closer, and "
                                        "then it flew away again.")),
        ),
        "hints": ("Hats love the wind. You will have to be cleverer than the wind.",
                  "A hat always comes back to the head that loves it.",
                  "Hats are a bit like cats. Chase them, and they run.",
                  "Try somewhere high. The wind likes high places."),
        "climax": ("{W} climbed {to_summit}, where the wind always blew.",
                   "{H} stood very still and did not chase the hat at all. {He} just held out {his} arms and "
                   "smiled."),
        "solved": "The hat spun three times in the air, did a little loop-the-loop, and landed, plop, right on {Hs} "
                  "head, as if it had never left.",
        "solved_summary": "the hat lands right back on {Hname_pos} head",
        "happy": ("{W} made it to the party just in time.",
                  "{H} danced all evening with the hat on {his} head, and it did not blow away once. Well, maybe "
                  "once."),
        "bitter": ("But the hat had a little tear in it now, and its yellow feather was gone.",
                   "{H} did not mind too much. Every time {he} looked at the tear, {he} remembered the silliest day "
                   "ever."),
        "bitter_summary": "the hat is torn and its feather is lost, but it holds the memory of the silliest day.",
        "twist": ("Then {H} looked inside the hat and gasped.",
                  "A tiny bird had built a nest in it! The hat had not been running away at all. It had been giving "
                  "the little bird a ride."),
        "twist_summary": "a tiny bird had been riding in the hat all along.",
        "lesson": "that sometimes the best way to get something back is to stop chasing it",
        "hook": ("But that night, the wind came back to the window and whispered, \"Let's play again tomorrow.\"",
                 "And the hat wiggled, just a little."),
        "hook_summary": "the wind wants to play again tomorrow.",
        "titles": ("Whoosh!", "Not Chasing", "A Hat Comes Home"),
        "pictures": ("wearing a tall, floppy hat with a yellow feather", "watching a floppy hat fly away in the wind",
                     "standing still with open arms as a floppy hat spins down",
                     "dancing at a party in a tall floppy hat"),
    },
    "hiccups": {
        "tones": ("FUNNY",),
        "keywords": ("hiccup", "hiccups", "sneeze", "sneezing", "giggle", "giggles"),
        "title": "{Name} and the Hiccups",
        "premise": "{Hname} gets the hiccups, and every hiccup makes something silly happen",
        "goal": "find a cure for the hiccups",
        "routine": "{H} loved to laugh, and {his} laugh was the loudest and jolliest laugh {in_place}.",
        "discover": ("One day, right in the middle of lunch, {H} went: hic!",
                     "And the spoon jumped out of the bowl and did a somersault.",
                     "Hic! A flower turned upside down. Hic! The clouds turned into polka dots."),
        "stakes": {"G": ("It was funny at first. But then the hiccups made all the teacups float away, and that was "
                         "not so funny.",),
                   "PG": ("And each hiccup was bigger than the last. What would happen if they kept on growing?",),
                   "PG_13": ("With every hiccup, something else floated away, and some things did not come back. If "
                             "it went on much longer, there would be nothing left to hold on to.",)},
        "stakes_short": "everything would float away for good",
        "methods": (
            ("holding a breath and counting to ten", ("{H} held {his} breath and counted to ten.",
                                                      "Seven, eight, nine, hic! Everything nearby bounced up into "
                                                      "the air.")),
            ("drinking water upside down", ("{W} tried drinking water upside down.",
                                            "Most of the water went up {Hs} nose, and the hiccups stayed right where "
                                            "they were.")),
            ("a big surprise", ("{F} jumped out from behind a tree. \"Boo!\"",
                                "{H} laughed so hard {he} fell over. Then: hic!")),
            ("eating a spoonful of honey", ("{W} tried a spoonful of honey, slowly, slowly.",
                                            "For a moment, it worked. Then: hic! The honey jar floated off like a "
                                            "balloon.")),
        ),
        "hints": ("Hiccups are just little laughs that got stuck.", "Have you tried thinking about something very "
                                                                    "calm?",
                  "My grandma always said: to stop a hiccup, give it what it wants.",
                  "Hiccups come from being in a hurry. Slow down."),
        "climax": ("{W} sat down together {at_summit}, where it was quiet.",
                   "{H} took a long, slow breath, and then, instead of fighting the hiccups, {he} let out the "
                   "biggest, happiest laugh of {his} whole life."),
        "solved": "The laugh rolled out, and all the stuck little laughs rolled out with it. The hiccups were gone.",
        "solved_summary": "one enormous laugh chases the hiccups away",
        "happy": ("One by one, the spoons and teacups floated gently back down.",
                  "{W} laughed until the sun went down, and not one single hic was heard."),
        "bitter": ("The hiccups were gone, but so were the floating teacups and the polka-dot clouds, and {H} "
                   "missed them a tiny bit.",
                   "It had been the strangest, silliest day, and {he} would never forget it."),
        "bitter_summary": "the silly magic goes away with the hiccups.",
        "twist": ("Then {F} opened {fhis} mouth to say hooray, and out came: hic!",
                  "Everyone stared. Then everyone laughed, because now they knew exactly what to do."),
        "twist_summary": "the hiccups jump to a friend, who already knows the cure.",
        "lesson": "that sometimes the best medicine is a really good laugh",
        "hook": ("That night, as {H} {was} falling asleep, {he} heard a tiny sound from the next room.", "Hic!"),
        "hook_summary": "a tiny hic is heard from the next room.",
        "titles": ("Hic!", "The Biggest Laugh", "Not One Hic"),
        "pictures": ("laughing a big jolly laugh", "hiccupping while spoons and teacups float in the air",
                     "laughing a huge happy laugh in a quiet place",
                     "laughing together as teacups float gently down"),
    },
    "map": {
        "tones": ("ADVENTUROUS",),
        "keywords": ("treasure", "map", "chest", "gold", "pirate", "pirates", "explore", "x marks"),
        "title": "{Name} and the Treasure Map",
        "premise": "{Hname} finds an old treasure map with a big red X",
        "goal": "follow the map and find the treasure",
        "routine": "{W} loved exploring, and {we} always said that one day {we} would find a real treasure.",
        "discover": ("One morning, {H} found a rolled-up piece of paper stuck in a crack.",
                     "It was a map! An old, crinkly treasure map, with a dotted line and a big red X.",
                     "\"A real treasure map!\" {H} whispered."),
        "stakes": {"G": ("Underneath the X, someone had written: Find me before the sun goes down.",),
                   "PG": ("Underneath the X, someone had written: Find me before the sun goes down, or I will be "
                          "lost forever.",),
                   "PG_13": ("But someone else wanted the treasure too. Fresh footprints already followed the "
                             "dotted line, and whoever made them did not care who got hurt.",)},
        "stakes_short": "the treasure would fall into the wrong hands",
        "methods": (
            ("reading the map's first clue", ("The map said: Start where the water sings. {W} followed the sound "
                                              "of splashing.",
                                              "There was an arrow scratched into a stone, pointing onward!")),
            ("counting steps the way the map says", ("The map said: Twenty steps toward the sunrise. {W} counted out "
                                                     "loud.",
                                                     "But {H} took big steps and {F} took little ones, and {we} "
                                                     "ended up in two different places.")),
            ("looking for the crooked tree", ("The map showed a crooked tree, bent like a question mark.",
                                              "{W} searched and searched, and at last {we} found it, hiding behind "
                                              "a bush.")),
            ("solving the riddle on the back", ("On the back of the map was a riddle: I have a face but no eyes, and "
                                                "hands but no arms.",
                                                "\"A clock!\" said {F}. And the next mark on the map was shaped like "
                                                "a clock.")),
        ),
        "hints": ("Maps are tricky. They tell you where, but never how.", "The best treasure hunters never go alone.",
                  "Look up, not just down. X does not always mark the ground.",
                  "I saw that old map once, long ago. The treasure is closer than you think."),
        "climax": ("The dotted line ended {at_summit}, right at the big red X.",
                   "{W} dug and dug, and at last {we} found a little wooden box."),
        "solved": "Inside the box was a shiny golden key, and a note that said: For the bravest explorers.",
        "solved_summary": "the friends dig up a little wooden box at the big red X",
        "happy": ("The key opened a secret door, and behind it was a room full of treasures: shells and marbles and "
                  "golden coins and books.",
                  "{W} shared them with everyone {in_place}, and there was plenty for all."),
        "bitter": ("The treasure was a bundle of old letters from a family who had lived there long ago.",
                   "{W} read every one, and then put them back for the next explorers to find."),
        "bitter_summary": "the treasure is a bundle of old letters, left for the next explorers.",
        "twist": ("Under the key was a little mirror, and a note: The treasure is the one looking back at you.",
                  "{H} looked in the mirror, and then at {F}, and understood. The treasure had been with {us} the "
                  "whole time."),
        "twist_summary": "the treasure is a mirror: the friends were the treasure all along.",
        "lesson": "that the best treasures are the friends who share the adventure",
        "hook": ("At the bottom of the box was another map, even older, with an even bigger X.",
                 "{W} looked at each other and grinned."),
        "hook_summary": "at the bottom of the box is another, even older map.",
        "titles": ("The Map with the Big Red X", "X Marks the Spot", "The Treasure"),
        "pictures": ("exploring with a little backpack", "unrolling an old treasure map with a big red X",
                     "digging up a little wooden box", "opening a little treasure box together"),
    },
    "message": {
        "tones": ("ADVENTUROUS", "SUSPENSEFUL"),
        "keywords": ("letter", "message", "deliver", "invitation", "parcel", "package", "race", "sunset"),
        "title": "{Name} and the Important Letter",
        "premise": "{Hname} must deliver an important letter to the one who lives {at_summit}, before sunset",
        "goal": "deliver the letter before sunset",
        "routine": "{H} {was} the fastest runner {in_place}[, and everyone said so].",
        "discover": ("One morning, a letter came fluttering down and landed right at {Hs} feet.",
                     "On the front, in curly writing, it said: Please deliver before sunset, to the one who lives "
                     "{at_summit}.",
                     "{H} looked up. That was a long, long way away."),
        "stakes": {"G": ("Whatever was inside was very important. And the sun was already climbing the sky.",),
                   "PG": ("The seal said URGENT. If it did not arrive by sunset, something important would be "
                          "missed.",),
                   "PG_13": ("Inside was a warning: the old dam was leaking, and if the gates were not opened by "
                             "sunset, the whole valley would flood.",)},
        "stakes_short": "the letter would arrive too late",
        "methods": (
            ("taking the shortest path", ("{W} took the shortest path, running as fast as {we} could.",
                                          "But the shortest path led straight into a bog, and {W} had to go all "
                                          "the way around.")),
            ("asking for directions", ("{W} asked which way to go.",
                                       "Everyone pointed a different way, which was not very helpful at all.")),
            ("crossing the water on a raft", ("{W} built a little raft out of logs to cross the water.",
                                              "It wobbled and splashed, but it held, and {W} made it across, soaking "
                                              "wet and laughing.")),
            ("climbing the steep path", ("The path got steeper and steeper.",
                                         "{W} climbed and climbed, helping each other over the big rocks.")),
        ),
        "hints": ("The quickest way is not always the shortest.", "Follow the birds. They know every shortcut.",
                  "Keep the letter dry, whatever you do.", "You are nearly there. Do not give up now."),
        "climax": ("The sun was touching the hills when {W} finally reached {summit}.",
                   "With the very last of {our} strength, {W} knocked on the little door."),
        "solved": "The door swung open, and an old, kind face smiled down. The letter had arrived, just in time.",
        "solved_summary": "the letter arrives just in time",
        "happy": ("Inside the letter was an invitation to a grand party, that very night, for everyone who had "
                  "helped along the way.",
                  "And that meant {Wo}, and every friend {we} had met."),
        "bitter": ("The letter was from an old friend who was going far away, and it said goodbye.",
                   "It was a sad letter, but the old one smiled. \"Thank you for bringing it,\" she said. \"Now I "
                   "know I was not forgotten.\""),
        "bitter_summary": "the letter is a goodbye, but it brings comfort.",
        "twist": ("The old one opened the letter, laughed, and handed it back.",
                  "It said: Dear {Hname}, if you are reading this, you have passed the test. Welcome to the Secret "
                  "Club of Helpers."),
        "twist_summary": "the letter was for the hero all along: an invitation to the Secret Club of Helpers.",
        "lesson": "that a promise kept is worth every single step",
        "hook": ("The old one handed {Ho} a new letter, sealed with golden wax.",
                 "\"This one,\" she said, \"has to go much farther.\""),
        "hook_summary": "there is a new letter, which has to go much farther.",
        "titles": ("A Letter for Someone", "Just in Time", "Delivered"),
        "pictures": ("running along a path", "holding a letter with a wax seal",
                     "knocking on a little door at sunset", "handing over a letter at a little door at sunset"),
    },
    "lullaby": {
        "tones": ("CALM",),
        "keywords": ("lullaby", "sleep", "sleepy", "song", "music", "bedtime", "moon", "dream", "dreams", "night"),
        "title": "{Name} and the Sleepy Moon",
        "premise": "{Hname} learns that the old moon has forgotten its lullaby, and without it, nobody can fall asleep",
        "goal": "find the moon's lost lullaby",
        "routine": "Every evening, when the sky turned pink and gold, {W} liked to watch the moon come up.",
        "discover": ("But one night, the moon came up with a great big yawn.",
                     "\"I cannot sleep,\" sighed the moon. \"I have forgotten my lullaby, and without it, nobody can "
                     "sleep at all.\"",
                     "All around, everyone was yawning and tossing and turning."),
        "stakes": {"G": ("Without a lullaby, nobody would get any sleep, and tomorrow everyone would be terribly "
                         "grumpy.",),
                   "PG": ("The night was growing long, and everyone was more and more tired. If the lullaby was not "
                          "found by morning, no one would sleep for a whole day.",),
                   "PG_13": ("Already the night creatures were worn out and wandering in circles. Without sleep, "
                             "{spot} was slowly coming apart.",)},
        "stakes_short": "no one would ever rest again",
        "methods": (
            ("listening to the water", ("{W} sat and listened to the water lapping softly.",
                                        "It was a lovely sound, lap, lap, lap, but it was not the whole lullaby.")),
            ("collecting the sound of the wind", ("{W} listened to the wind. Shhh, shhh, it said.",
                                                  "That was part of it! {H} tucked the sound away carefully.")),
            ("humming with the crickets", ("The crickets were humming a soft little tune.",
                                           "{W} hummed along. Hmm, hmm, hmm. That was part of it too.")),
            ("remembering an old song", ("{F} remembered a song {fhis} grandma used to sing.",
                                         "It went: hush now, hush now, the day is done.")),
        ),
        "hints": ("A lullaby is made of all the quiet sounds of the night.",
                  "Listen closely. The quietest sounds are the most important.",
                  "Put the sounds together, softly, softly.", "The moon likes its lullaby sung by friends."),
        "climax": ("{W} climbed {to_summit}, as close to the moon as {we} could get.",
                   "Then, very softly, {W} sang: the lap of the water, the shhh of the wind, the hum of the "
                   "crickets, and hush now, hush now, the day is done."),
        "solved": "The moon smiled a long, slow smile, and its eyes began to close.",
        "solved_summary": "the friends sing the lullaby, and the moon drifts off to sleep",
        "happy": ("All around, everyone yawned a happy yawn and snuggled down.",
                  "{W} curled up together under the soft silver light, warm and sleepy, and drifted off to the "
                  "sweetest dreams."),
        "bitter": ("The moon slept peacefully, but by morning, the lullaby had floated away on the breeze.",
                   "{H} did not mind. {He} knew that whenever someone needed it, it could be found again, one sound "
                   "at a time."),
        "bitter_summary": "the lullaby floats away by morning, but it can always be found again.",
        "twist": ("And as the moon fell asleep, it began to hum the lullaby itself.",
                  "It had not forgotten it at all. It had just wanted someone to sing to it for a change."),
        "twist_summary": "the moon had never forgotten its lullaby; it only wanted someone to sing to it.",
        "lesson": "that the quiet, gentle things matter just as much as the loud ones",
        "hook": ("But just before {H} fell asleep, {he} heard another yawn, far, far away.", "It sounded like a star."),
        "hook_summary": "far away, a star yawns too.",
        "titles": ("The Sleepless Moon", "A Song for the Moon", "Sweet Dreams"),
        "light": "in soft evening light",
        "pictures": ("watching the moon rise in a pink and gold sky", "looking up at a big yawning moon",
                     "singing softly to the moon", "curled up asleep under silver moonlight"),
    },
    "newcomer": {
        "tones": ("HEARTWARMING", "SERIOUS"),
        "keywords": ("new friend", "friendship", "lonely", "shy", "neighbor", "neighbour", "newcomer", "new kid"),
        "guests": (("Hazel", "a shy little hedgehog", "she", "hedgehog"),
                   ("Toby", "a shy little tortoise", "he", "tortoise"),
                   ("Mo", "a shy young mole", "he", "mole")),
        "title": "{Name} Makes a New Friend",
        "premise": "{Hname} meets {N}, a shy newcomer who has no friends yet",
        "goal": "help {N} feel at home",
        "routine": "{W} knew every corner of {place}, and every single neighbor too.",
        "discover": ("One day, a moving cart came rumbling down the path, and out climbed {N_intro}.",
                     "{N} stood all alone, looking down at {nhis} feet.",
                     "When {H} waved, {N} hid behind a box."),
        "stakes": {"G": ("{H} remembered what it felt like to be new somewhere, and {he} wanted to help.",),
                   "PG": ("That night, {H} saw {N} sitting alone by the window, looking very sad. {N} was thinking "
                          "of going back to {nhis} old home.",),
                   "PG_13": ("That night, {H} heard {N} crying. \"Nobody here likes me,\" {nhe} said. \"I want to "
                             "go back.\" And the cart was leaving again in the morning.",)},
        "stakes_short": "{N} would leave believing that nobody cared",
        "methods": (
            ("inviting {N} to play", ("{W} invited {N} to play tag.",
                                      "But {N} shook {nhis} head and looked away.")),
            ("bringing a welcome gift", ("{W} picked a bunch of flowers and left them on {Ns} doorstep.",
                                         "The next morning, the flowers were gone, and there was a tiny thank-you "
                                         "note in their place.")),
            ("finding out what {N} likes", ("{W} noticed that {N} was always looking up at the stars.",
                                            "\"I love stars,\" {N} said in a tiny voice. \"I know all their "
                                            "names.\"")),
            ("asking {N} for help", ("{W} asked {N} to help find the way home one evening.",
                                     "{N} pointed at the stars and showed the way, and smiled for the very first "
                                     "time.")),
        ),
        "hints": ("Shy friends need time, like flowers in spring.", "Do not try to make someone talk. Just be nearby.",
                  "Everyone is good at something. Find out what.",
                  "Sometimes the best way to make a friend is to ask for help."),
        "climax": ("That evening, {W} held a star party {at_summit}, and asked {N} to be the guide.",
                   "{N} told everyone the names of the stars, one by one, and everyone listened, amazed."),
        "solved": "By the end of the night, {N} was laughing and talking as if {nhe} had lived there forever.",
        "solved_summary": "{N} guides everyone through the stars and finds a place among friends",
        "happy": ("From then on, {N} was part of every game and every adventure.",
                  "And whenever anyone new came to {place}, {N} was the first to say hello."),
        "bitter": ("When summer ended, {Ns} family moved on again, as they always did.",
                   "{W} waved until the cart was out of sight. It was sad, but {N} left with a heart full of "
                   "friends."),
        "bitter_summary": "{N} moves on at the end of summer, with a heart full of friends.",
        "twist": ("\"Can I tell you a secret?\" {N} whispered. \"Back home, I was the loudest one of all. I was just "
                  "too nervous to be myself here, until you came along.\"",
                  "And from that day on, {N} was the loudest, funniest friend anyone had ever had."),
        "twist_summary": "{N} turns out to be the loudest, funniest friend of all.",
        "lesson": "that a little kindness can change someone's whole world",
        "hook": ("The next morning, another moving cart came rumbling down the path.",
                 "{N} took {Hs} hand. \"Come on,\" {nhe} said. \"Let's go and say hello.\""),
        "hook_summary": "another newcomer arrives, and this time {N} is the first to say hello.",
        "titles": ("Someone New", "The Star Party", "Friends"),
        "pictures": ("playing together", "waving at a shy newcomer hiding behind a box",
                     "gathered under the night sky while a new friend points at the stars",
                     "playing happily with a new friend"),
    },
    "party": {
        "tones": ("HEARTWARMING", "FUNNY"),
        "keywords": ("party", "birthday", "surprise", "gift", "present", "presents", "celebrate", "celebration"),
        "guests": (("Grandpa Tortoise", "a kind old tortoise", "he", "tortoise"),
                   ("Granny Goose", "a kind old goose", "she", "goose"),
                   ("Old Barnaby", "a gentle old badger", "he", "badger")),
        "title": "{Name} and the Surprise Party",
        "premise": "{Hname} wants to throw a surprise birthday party for {N}, who thinks everyone has forgotten",
        "goal": "throw {N} the best surprise party ever",
        "routine": "Everybody loved {N}, {N_desc} who always had time for a story and a cup of tea.",
        "discover": ("One morning, {H} found {N} sitting alone on a bench.",
                     "\"Today is my birthday,\" {N} said with a small smile. \"But I suppose everyone has "
                     "forgotten.\"",
                     "{H} had an idea, a great big secret idea."),
        "stakes": {"G": ("There was only one day to get everything ready, and it all had to stay a secret!",),
                   "PG": ("And there was only one day to get everything ready, without {N} finding out.",),
                   "PG_13": ("{H} realized that {N} had spent every birthday alone for years, and {he} promised "
                             "{himself} that this one would be different, whatever it took.",)},
        "stakes_short": "{N} would spend another birthday alone",
        "methods": (
            ("baking a birthday cake", ("{W} tried to bake a cake.",
                                        "It came out a bit flat and a bit lopsided, but it smelled wonderful, so it "
                                        "was perfect.")),
            ("making decorations", ("{W} made paper chains and flower garlands.",
                                    "Soon there were decorations everywhere, even on {F}, who had gotten a little "
                                    "tangled.")),
            ("inviting all the neighbors", ("{W} went from door to door, whispering the secret to everyone.",
                                            "\"A surprise party? For {N}? We would not miss it!\"")),
            ("keeping {N} busy", ("{F} took {N} on a long, slow walk, so that {nhe} would not see what was "
                                  "happening.",
                                  "{F} asked so many questions that {N} never once guessed.")),
        ),
        "hints": ("The best parties are full of the people you love.",
                  "A cake does not have to be perfect. It has to be made with love.",
                  "Sing loudly. Birthday songs are meant to be loud.",
                  "Keep it secret. Surprises are like soap bubbles: one word and pop!"),
        "climax": ("When the sun went down, everyone hid {at_summit} and held their breath.",
                   "Footsteps came closer and closer, and then {N} came along the path."),
        "solved": "\"Surprise!\" everyone shouted, and {N} laughed and cried at the same time.",
        "solved_summary": "{N} walks into the surprise party",
        "happy": ("There was singing and dancing and lopsided cake for everyone.",
                  "\"This is the best birthday I have ever had,\" said {N}, and hugged every single guest."),
        "bitter": ("Later, when everyone had gone home, {N} said that this was {nhis} last birthday here: {nhe} "
                   "was moving far away to live with {nhis} family.",
                   "\"But I will take this night with me,\" {nhe} said. \"Always.\""),
        "bitter_summary": "it is {Ns} last birthday here, and the party becomes a memory to keep.",
        "twist": ("Then {N} laughed and pulled out a big box. \"I have a surprise too!\"",
                  "Inside were presents for everyone. {N} had known about the party all along, and had been making "
                  "gifts in secret."),
        "twist_summary": "{N} knew all along, and had been secretly making presents for everyone.",
        "lesson": "that the best gifts are the ones made with love",
        "hook": ("As the party ended, {N} whispered, \"Do you know whose birthday is next week?\"",
                 "{H} did not. But {he} {was} about to find out."),
        "hook_summary": "another birthday is coming next week.",
        "titles": ("A Forgotten Birthday", "Surprise!", "The Best Birthday"),
        "pictures": ("waving hello to a kind old friend", "sitting on a bench with an old friend on a birthday",
                     "shouting surprise at a party with paper chains and a lopsided cake",
                     "dancing at a birthday party with a lopsided cake"),
    },
    "cookies": {
        "tones": ("MYSTERIOUS", "FUNNY"),
        "keywords": ("cookie", "cookies", "missing", "disappeared", "vanished", "clue", "clues", "detective",
                     "stolen", "thief", "mystery", "crumbs"),
        "title": "{Name} and the Missing Cookies",
        "premise": "{Hname} finds that the cookies baked for the big picnic have vanished, leaving only a trail of "
                   "crumbs",
        "goal": "solve the mystery of the missing cookies",
        "routine": "{W} loved a good puzzle, and {we} always noticed the little things other people missed.",
        "discover": ("One morning, a tray of cookies was cooling on a windowsill, ready for the big picnic.",
                     "But when {H} came back, the tray was empty!",
                     "All that was left were some crumbs, and a tiny footprint, no bigger than a button."),
        "stakes": {"G": ("Without the cookies, the picnic would not be the same. Who could have taken them?",),
                   "PG": ("And strange things kept happening: a missing sock here, a missing spoon there. Something "
                          "was sneaking around, and {W} meant to find out what.",),
                   "PG_13": ("And it was not just the cookies. Food had been disappearing all over {spot} for a "
                             "week, and friends who had never argued before were starting to blame each other.",)},
        "stakes_short": "the friends would keep blaming each other",
        "methods": (
            ("following the crumbs", ("{W} followed the trail of crumbs.",
                                      "It went left, then right, then round in a circle, as if whoever made it "
                                      "could not decide where to go.")),
            ("looking closely at the footprint", ("{H} looked very closely at the tiny footprint.",
                                                  "It had four little toes and a long, thin line behind it, like a "
                                                  "tail.")),
            ("keeping watch", ("{W} hid behind a bush and kept watch.",
                               "For a long time, nothing happened. Then, a tiny rustle! But when {W} looked, nobody "
                               "was there.")),
            ("finding a hidden stash", ("{F} found a little hole, tucked away where nobody ever looked.",
                                        "Inside were three cookie crumbs, a button, a red thread and a shiny bead.")),
        ),
        "hints": ("Whoever took them is very small, and very hungry.",
                  "Look low, not high. Little feet make little tracks.",
                  "Someone has been building something nearby. I hear tiny hammering at night.",
                  "Nobody takes something without a reason. Find the reason."),
        "climax": ("That night, {W} crept {to_summit}, very, very quietly, and peeked over the edge.",
                   "There, in the moonlight, sat a family of tiny mice, building a little house and munching on "
                   "cookies."),
        "solved": "The littlest mouse looked up and squeaked, \"We are sorry! Our house blew away in the wind, and "
                  "we were so hungry.\"",
        "solved_summary": "the cookie takers are a family of hungry mice who lost their home",
        "happy": ("So {W} helped the mice build a snug new home, and the next day, everyone baked a brand new batch "
                  "of cookies together.",
                  "The mice came to the picnic as the guests of honor."),
        "bitter": ("{W} gave the mice all the cookies that were left, and the picnic had no cookies at all that "
                   "year.",
                   "But every time {H} saw the little mouse house, all warm and snug, {he} knew it had been worth "
                   "it."),
        "bitter_summary": "the picnic goes without cookies, but the mice have a home.",
        "twist": ("And the littlest mouse was wearing a tiny apron, covered in flour.",
                  "The mice had not just been eating the cookies. They had been learning to bake them, and they had "
                  "made a whole new batch for the picnic!"),
        "twist_summary": "the mice had been learning to bake, and made a new batch for the picnic.",
        "lesson": "that before you blame someone, it is good to find out their story",
        "hook": ("But on the way home, {F} stopped and pointed.",
                 "On the path was a brand new footprint, much, much bigger than a mouse's."),
        "hook_summary": "a new, much bigger footprint appears on the path.",
        "titles": ("The Empty Tray", "Caught in the Moonlight", "Mystery Solved"),
        "pictures": ("peering closely at something through a magnifying glass",
                     "staring at an empty cookie tray and a trail of crumbs",
                     "peeking at a family of tiny mice munching cookies in the moonlight",
                     "sharing cookies with a family of tiny mice at a picnic"),
    },
    "lights": {
        "tones": ("MYSTERIOUS", "WHIMSICAL"),
        "keywords": ("glow", "glowing", "light", "lights", "strange", "secret", "firefly", "fireflies", "lantern"),
        "title": "{Name} and the Secret Lights",
        "premise": "{Hname} sees little lights dancing {in_place} every night and wants to know what they are",
        "goal": "discover the secret of the lights",
        "routine": "{W} loved a good secret, and {we} {were} very good at keeping them.",
        "discover": ("One night, {H} saw something strange.",
                     "Little lights were bobbing and dancing, blue and green and gold, just beyond the edge of "
                     "{spot}.",
                     "But when {H} blinked, they were gone."),
        "stakes": {"G": ("Nobody else had ever seen them. What could they be?",),
                   "PG": ("Every night the lights came closer, and every morning something small had changed: a "
                          "pebble moved, a shell turned over. It was puzzling, and a tiny bit spooky.",),
                   "PG_13": ("And the night after the lights appeared, the old well dried up and the flowers began "
                             "to droop. Whatever the lights were, something was wrong, and it was getting worse.",)},
        "stakes_short": "the flowers and the well would be gone forever",
        "methods": (
            ("asking everyone about the lights", ("{W} asked everyone if they had seen the lights.",
                                                  "Some said yes, some said no, and one said, \"Lights? What "
                                                  "lights?\" and hurried away.")),
            ("staying up late to watch", ("{W} stayed up late to watch.",
                                          "A light appeared for a moment, blinking three times, like a signal. "
                                          "Then it was gone.")),
            ("blinking a lantern back", ("{H} had an idea, and blinked a lantern three times.",
                                         "Far away, a little light blinked back, three times!")),
            ("following a trail of glitter", ("In the morning, {W} found a trail of tiny glittering specks.",
                                              "{W} followed them as far as {we} could, until they faded in the "
                                              "sun.")),
        ),
        "hints": ("Lights that dance are not trying to hide. They are trying to be found.",
                  "Have you tried saying hello? In their language, I mean.",
                  "Patience. Secrets come out when they are ready.", "Things that glow do not like loud noises."),
        "climax": ("That night, {W} climbed {to_summit} with a lantern and waited, quiet as quiet can be.",
                   "Then {H} blinked the lantern three times, and slowly, shyly, the little lights came floating "
                   "closer."),
        "solved": "They were fireflies! Hundreds of tiny fireflies, and they had been signaling all along, looking "
                  "for a new home.",
        "solved_summary": "the lights turn out to be fireflies looking for a new home",
        "happy": ("{W} showed them the coziest corner of {place}, and the fireflies settled in and lit up the night "
                  "like a sky full of tiny stars.",
                  "Every evening after that, the fireflies blinked hello, and {W} blinked right back."),
        "bitter": ("The fireflies stayed for one magical summer, and then, one night, they blinked goodbye and "
                   "floated away to find another home.",
                   "{H} missed them. But sometimes, on warm nights, {he} still saw one blinking three times, just "
                   "to say hello."),
        "bitter_summary": "the fireflies stay one summer and move on, but still blink hello.",
        "twist": ("Then one firefly landed on {Hs} nose and spoke. \"We were not lost,\" it said. \"We were "
                  "watching over you.\"",
                  "The lights had been guardians all along, and now that they had been found, they would never be "
                  "a secret again."),
        "twist_summary": "the fireflies were never lost: they had been watching over everyone all along.",
        "lesson": "that the world is full of wonders for anyone patient enough to look",
        "hook": ("As the fireflies settled in, {H} noticed a new light, far away on the horizon.",
                 "This one was purple, and it was blinking four times."),
        "hook_summary": "a new purple light blinks four times, far away.",
        "titles": ("Lights in the Night", "Three Blinks", "The Secret Is Out"),
        "light": "at dusk, as the first stars come out",
        "pictures": ("looking out into the evening", "spotting little blue and gold lights dancing in the night",
                     "holding up a lantern as hundreds of fireflies float closer",
                     "surrounded by glowing fireflies on a warm night"),
    },
    "rain": {
        "tones": ("SUSPENSEFUL",),
        "keywords": ("storm", "rain", "weather", "thunder", "flood", "clouds", "shelter"),
        "title": "{Name} Beats the Rain",
        "premise": "{Hname} sees rain clouds gathering and must bring the little ones home before the weather "
                   "turns",
        "goal": "bring the little ones home before the rain",
        "routine": "{H} {was} the one everyone trusted to look after the little ones[, because {he} {was} careful "
                   "and kind].",
        "discover": ("One afternoon, {H} looked up and saw the sky changing.",
                     "Big gray clouds were rolling in, heavy with rain, and the wind smelled wet.",
                     "And the little ones were still out playing, far from home!"),
        "stakes": {"G": ("If {W} did not hurry, everyone would get very, very wet.",),
                   "PG": ("A storm was coming, and the little ones were scattered all over {spot}.",),
                   "PG_13": ("This was no ordinary storm. The river was already rising, and the little ones were "
                             "playing on the low ground by the water.",)},
        "stakes_short": "the little ones would be caught out in the storm",
        "methods": (
            ("calling the little ones", ("{W} called and called.",
                                         "Some of the little ones came running, but three were still missing.")),
            ("searching the hiding places", ("{W} checked all the best hiding places.",
                                             "Behind the third one, two little ones were giggling. \"Found you!\" "
                                             "{H} said. \"Now come home, quickly.\"")),
            ("building a shelter", ("The first raindrops were falling, so {W} built a shelter of branches and big "
                                    "leaves.",
                                    "The little ones squeezed inside, dry for now.")),
            ("looking for the last little one", ("But the smallest one of all was still missing.",
                                                 "{W} looked everywhere, calling and calling.")),
        ),
        "hints": ("The littlest ones always hide where it is warmest.",
                  "When the wind changes, there is only a little time left. Hurry!",
                  "Follow the giggling. Little ones can never stay quiet for long.",
                  "The smallest one loves high places. Look up!"),
        "climax": ("{W} hurried {to_summit} just as the rain began to pour.",
                   "And there was the smallest one, sitting at the very top, watching the clouds. {H} scooped the "
                   "little one up, and {W} ran for home."),
        "solved": "{W} burst through the door just as the rain came down in buckets, and every single little one "
                  "was safe and dry.",
        "solved_summary": "everyone gets home safe and dry just as the rain pours down",
        "happy": ("Outside, the rain drummed on the roof. Inside, it was warm, and there was hot soup and blankets "
                  "for everyone.",
                  "\"Tell us the story of how you found us!\" said the little ones. So {H} did."),
        "bitter": ("Everyone was safe. But the rain had washed away the little ones' favorite swing, the one that "
                   "had hung there for years.",
                   "The next morning, {W} helped build a new one. It was not the same, but it was good."),
        "bitter_summary": "everyone is safe, but the old swing is washed away.",
        "twist": ("Then the smallest one pointed at the window and said, \"But I wasn't lost. I was waiting for the "
                  "rainbow.\"",
                  "And as the rain stopped, the biggest rainbow anyone had ever seen stretched right across the "
                  "sky."),
        "twist_summary": "the smallest one was not lost at all, but waiting for the rainbow.",
        "lesson": "that staying calm and working together can get you through anything",
        "hook": ("That night, the wind whispered something at the window.",
                 "It sounded like: \"Thank you. I will remember.\""),
        "hook_summary": "the wind whispers a thank you at the window.",
        "titles": ("Clouds Are Coming", "Home Just in Time", "Safe and Dry"),
        "pictures": ("playing with the little ones in the sunshine", "looking up at big gray rain clouds rolling in",
                     "carrying the smallest little one home as the rain starts",
                     "snuggled under blankets with hot soup while rain falls outside"),
    },
    "lostbaby": {
        "tones": ("SUSPENSEFUL", "HEARTWARMING"),
        "keywords": ("lost", "baby", "egg", "nest", "mother", "mama", "way home", "find home"),
        "title": "{Name} and the Lost Little One",
        "premise": "{Hname} finds a lost little {baby} and must help it find its way home before nightfall",
        "goal": "take the little {baby} home",
        "routine": "{H} always kept {his} eyes and ears open, because {he} liked to help.",
        "discover": ("One afternoon, {H} heard a tiny sound: peep, peep.",
                     "There, all alone, was a little {baby}, no bigger than a teacup.",
                     "\"I can't find my mama,\" it said, and its voice wobbled."),
        "stakes": {"G": ("Its mama must be looking everywhere for it. They had to find each other before bedtime.",),
                   "PG": ("The sun was getting low, and the little {baby} was shivering. It needed to get home "
                          "before night came.",),
                   "PG_13": ("The little {baby} was cold and weak, and night was coming fast. It would not last long "
                             "out here on its own.",)},
        "stakes_short": "the little {baby} would be alone and cold all night",
        "methods": (
            ("asking who has seen the little one's family", ("{W} asked everyone: \"Have you seen this little one's "
                                                             "family?\"",
                                                             "Nobody had, but everyone promised to keep watch.")),
            ("following tiny tracks", ("{W} found a row of tiny tracks and followed them.",
                                       "They went round and round in circles and ended right back where {we} "
                                       "started.")),
            ("listening for a call", ("{W} stood very still and listened.",
                                      "Far away, something was calling. The little {baby} perked up and called "
                                      "back.")),
            ("keeping the little one warm", ("The little {baby} was getting tired, so {H} wrapped it up snugly and "
                                             "carried it.",
                                             "It nestled close and stopped shivering.")),
        ),
        "hints": ("Mamas always go to the highest place to look for their babies.",
                  "Call out loud. A family always knows each other's voices.",
                  "Follow the sound, not the tracks.", "It is almost bedtime. Hurry, but gently."),
        "climax": ("{W} climbed {to_summit}, where anyone could see far and wide.",
                   "{H} lifted the little {baby} up high, and it called out with all its might."),
        "solved": "From far away came an answer, and then the little {baby}'s mama came hurrying over and wrapped it "
                  "up tight.",
        "solved_summary": "the little {baby} calls out, and its mama comes hurrying",
        "happy": ("The mama thanked {Wo} again and again.",
                  "And every spring after that, the little {baby} came to visit, a little bigger every time."),
        "bitter": ("The little {baby} snuggled up with its mama and looked back at {Ho} one last time.",
                   "{H} would miss it. But {he} knew it was where it belonged."),
        "bitter_summary": "the little one goes home with its mama, and will be missed.",
        "twist": ("And behind the mama came a whole parade: brothers and sisters and cousins and aunties, dozens "
                  "of them, all cheering.",
                  "The little {baby} was the youngest of the biggest family {in_place}, and now {W} {were} part of "
                  "it too."),
        "twist_summary": "the little one belongs to the biggest family of all, and now the friends are part of it.",
        "lesson": "that no one is too small to help, or too small to be helped",
        "hook": ("As the family hurried home, {H} noticed a single tiny egg left behind in the grass.",
                 "It wobbled. And then it began to crack."),
        "hook_summary": "a tiny egg left behind in the grass begins to crack.",
        "titles": ("Peep, Peep", "Calling Home", "Together Again"),
        "pictures": ("keeping watch with bright eyes", "finding a tiny lost {baby} all alone",
                     "holding a little {baby} up high", "watching a little {baby} snuggle up with its mama"),
    },
    "seed": {
        "tones": ("EDUCATIONAL", "CALM"),
        "keywords": ("seed", "seeds", "plant", "plants", "grow", "growing", "flower", "flowers", "garden"),
        "title": "{Name} and the Tiny Seed",
        "premise": "{Hname} finds a tiny seed and learns what it needs to grow",
        "goal": "help the tiny seed grow",
        "routine": "{H} loved asking questions: why, and how, and what if.",
        "discover": ("One day, {H} found a tiny brown seed, no bigger than a freckle.",
                     "\"What are you?\" {H} asked. The seed did not answer, because seeds cannot talk.",
                     "But {H} had a feeling that it wanted to grow."),
        "stakes": {"G": ("{H} wanted to know how something so small could ever become something big.",),
                   "PG": ("It was late in the season, and if the seed did not start growing soon, it would have to "
                          "wait a whole year.",),
                   "PG_13": ("It was the very last seed of the old tree that had fed everyone for a hundred years. "
                             "If it did not grow, there would never be another.",)},
        "stakes_short": "the last seed would never grow",
        "methods": (
            ("giving the seed some soil", ("{W} learned that a seed needs soil, so {we} dug a little hole and "
                                           "tucked the seed inside.",
                                           "Soil is full of good things that help plants grow, like a cozy bed with "
                                           "breakfast inside.")),
            ("watering the seed", ("{W} learned that a seed needs water.",
                                   "{W} gave it a little drink every day. Not too much and not too little, just "
                                   "right.")),
            ("finding the sunniest spot", ("{W} learned that a seed needs sunshine.",
                                           "Plants use sunlight to make their own food. It is called photosynthesis, "
                                           "a very big word for a very clever trick.")),
            ("waiting patiently", ("Then came the hardest part: waiting.",
                                   "Under the soil, the seed was sending out a tiny root, down, down, down.")),
        ),
        "hints": ("A seed is like a packed lunch: it has just enough food to get started.",
                  "Roots grow down first, to drink. Then the shoot grows up, to find the light.",
                  "Plants breathe in the air we breathe out. Isn't that wonderful?",
                  "Every giant tree started as a seed just like this one."),
        "climax": ("One morning, {W} ran to check on the seed, just as {we} did every morning.",
                   "And there it was: a tiny green shoot poking out of the soil, with two little leaves unfolding "
                   "like hands."),
        "solved": "The seed had become a plant!",
        "solved_summary": "the seed sprouts into a little green plant",
        "happy": ("{W} looked after it all summer, and it grew tall, with big yellow flowers that turned to follow "
                  "the sun.",
                  "Inside each flower were hundreds of new seeds, enough to share with everyone."),
        "bitter": ("The plant grew and bloomed, and in the autumn it dropped its seeds and faded away.",
                   "{H} felt sad, and then {he} understood: the seeds were the plant's way of saying, see you next "
                   "spring."),
        "bitter_summary": "the plant fades in autumn, leaving its seeds for next spring.",
        "twist": ("It grew, and grew, and grew, until it was not a little plant at all, but a tree.",
                  "It was an apple tree! And the very first apple it grew was the sweetest apple anyone had ever "
                  "tasted."),
        "twist_summary": "the tiny seed grows into a whole apple tree.",
        "lesson": "that every big thing starts small, and that growing takes time",
        "hook": ("Next to the little plant, something else was poking up out of the soil.",
                 "It was purple, it was curly, and nobody had any idea what it was."),
        "hook_summary": "something purple and curly pokes up next to it.",
        "titles": ("A Tiny Brown Seed", "Two Little Leaves", "Growing"),
        "pictures": ("asking questions and looking closely at the world", "holding a tiny brown seed",
                     "looking at a tiny green shoot poking out of the soil",
                     "standing beside a tall plant with big yellow flowers"),
    },
    "raindrop": {
        "tones": ("EDUCATIONAL",),
        "keywords": ("water", "puddle", "puddles", "raindrop", "water cycle", "evaporation", "science"),
        "title": "{Name} and the Traveling Raindrop",
        "premise": "{Hname} meets a raindrop named Drip and learns how water travels from the ground to the sky and "
                   "back",
        "goal": "help Drip get back up to the clouds",
        "routine": "{H} loved splashing in puddles more than almost anything.",
        "discover": ("One morning, {H} jumped into a puddle, splash! And a tiny voice said, \"Excuse me!\"",
                     "It was a raindrop named Drip. \"I fell from a cloud,\" said Drip, \"and I want to go back up. "
                     "Can you help me?\"",
                     "How does a raindrop get back up to the sky? Nobody knew."),
        "stakes": {"G": ("But {H} was determined to find out.",),
                   "PG": ("The sun was getting hot, and the puddle was getting smaller. Drip was worried.",),
                   "PG_13": ("The fields were dry and cracked. It had not rained for weeks, and without rain, the "
                             "crops would fail.",)},
        "stakes_short": "the rain would never come back",
        "methods": (
            ("following the stream", ("{W} followed the water as it trickled into a stream.",
                                      "\"Water always flows downhill,\" said Drip. \"Streams run into rivers, and "
                                      "rivers run into the sea.\"")),
            ("watching the sun warm the water", ("The sun came out, warm and bright, and Drip began to feel light "
                                                 "and floaty.",
                                                 "\"The sun's warmth turns water into a gas called water vapor,\" "
                                                 "said Drip. \"It is called evaporation!\"")),
            ("seeing how clouds are made", ("Up, up, up floated Drip, with {W} watching from below.",
                                            "High in the cool sky, the water vapor gathered into tiny droplets, and "
                                            "the droplets made a cloud. That is called condensation.")),
            ("learning why rain falls", ("\"When enough droplets join together, they get too heavy to float,\" "
                                         "Drip explained.",
                                         "\"Then they fall as rain, and the whole journey starts again. It is called "
                                         "the water cycle!\"")),
        ),
        "hints": ("Water never really disappears. It just changes shape.", "The sun is the engine of the water cycle.",
                  "Every raindrop has been on a journey older than the mountains.",
                  "Look up. Clouds are just water, resting."),
        "climax": ("{W} climbed {to_summit} to wave goodbye.",
                   "The sun shone warm, and Drip rose up, light as a breath, toward a fluffy white cloud."),
        "solved": "Drip was home in the cloud, ready for the next journey.",
        "solved_summary": "Drip rises back up into the clouds",
        "happy": ("The next day it rained, a soft and gentle rain, and one raindrop landed right on {Hs} nose.",
                  "\"Hello again!\" said Drip."),
        "bitter": ("{H} waved until the cloud was far away.",
                   "{He} would probably never meet Drip again. But every time it rained, {he} wondered if one of the "
                   "drops was an old friend."),
        "bitter_summary": "Drip drifts away, and every rain might bring an old friend.",
        "twist": ("\"One more thing!\" called Drip from the cloud. \"Once, I was part of a snowflake, and before that "
                  "an iceberg, and before that, a dinosaur's drink!\"",
                  "Every drop of water in the world was very, very old, and very well traveled."),
        "twist_summary": "Drip was once snow, an iceberg, and a dinosaur's drink.",
        "lesson": "that water travels in a great circle, from the sea to the sky and back again",
        "hook": ("That night, {H} heard a tap, tap, tap at the window.",
                 "It was raining. And one of the raindrops was waving."),
        "hook_summary": "a raindrop waves at the window.",
        "titles": ("Splash! Hello!", "Up to the Clouds", "Rain Again"),
        "pictures": ("splashing in a puddle", "talking to a tiny raindrop in a puddle",
                     "waving as a raindrop rises toward a fluffy cloud", "smiling as a raindrop lands on a nose"),
    },
    "moving": {
        "tones": ("SERIOUS",),
        "keywords": ("moving", "move away", "moves away", "goodbye", "leaving", "miss", "far away"),
        "guests": (("Milo", "the friend next door", "he", "friend"),
                   ("Rosie", "the friend next door", "she", "friend")),
        "title": "{Name} and the Memory Box",
        "premise": "{Hname} learns that {N}, {Hname_pos} best friend, is moving far away",
        "goal": "make a goodbye gift for {N} to keep forever",
        "routine": "{H} and {N} had been friends for as long as anyone could remember.",
        "discover": ("One day, {N} came over with a very quiet face.",
                     "\"We are moving,\" {nhe} said. \"Far away, over the mountains. We leave in three days.\"",
                     "{H} did not know what to say, so {he} just sat close to {N}."),
        "stakes": {"G": ("Three days was not very long. {H} wanted to give {N} something special, something to "
                         "remember the good times by.",),
                   "PG": ("{H} felt a lump in {his} throat. Three days was not very long at all.",),
                   "PG_13": ("The news landed like a stone. There was no changing it and no fixing it. All {H} could "
                             "do was make the days that were left count.",)},
        "stakes_short": "{N} would leave without a goodbye worth remembering",
        "methods": (
            ("collecting things that hold memories", ("{H} went looking for things that held a memory.",
                                                      "There was a smooth stone from the day they built a dam, and a "
                                                      "feather from the day they tried to fly.")),
            ("drawing pictures of their adventures", ("{H} drew pictures of all the adventures {he} had shared with "
                                                      "{N}.",
                                                      "There was the day of the giant puddle, and the day of the "
                                                      "runaway kite, and the night they counted a hundred stars.")),
            ("writing a letter", ("{H} tried to write a letter, but the words would not come out right.",
                                  "{He} crossed it out and started again, three times, until it said just what {he} "
                                  "felt.")),
            ("finding the perfect box", ("Every gift needs a box, so {H} searched high and low.",
                                         "At last, {he} found an old wooden box with a little brass latch, just the "
                                         "right size.")),
        ),
        "hints": ("The best gifts are made of memories.", "Goodbyes are hard because friendship is big.",
                  "Far away is just a place. Friends stay friends.", "Write it down. Words can travel anywhere."),
        "climax": ("On the last evening, {H} and {N} sat together {at_summit}, where they had watched so many "
                   "sunsets.",
                   "{H} gave {N} the memory box, and {N} opened it slowly and looked at every single thing inside."),
        "solved": "\"I will keep this forever,\" {N} whispered. \"And I will write to you every week.\"",
        "solved_summary": "{N} opens the memory box and promises to write every week",
        "happy": ("And {N} did write, every single week.",
                  "The next summer, {N} came back to visit, and the two friends picked up right where they had left "
                  "off, as if no time had passed at all."),
        "bitter": ("The next morning, {H} waved until the cart was just a dot, and then not even a dot.",
                   "It was hard. But every week a letter came, and every letter began: Dear best friend."),
        "bitter_summary": "the goodbye is hard, but the letters keep coming.",
        "twist": ("Then {N} reached into {nhis} bag and pulled out a box of {nhis} own.",
                  "Inside were drawings of all the same adventures. {N} had been making a memory box too."),
        "twist_summary": "{N} had been making a memory box too.",
        "lesson": "that real friendship does not end when friends are far apart",
        "hook": ("A week later, a letter came. It said: You will never guess what I found here.",
                 "The rest, {N} wrote, was a secret, to be told on the very next visit."),
        "hook_summary": "a letter arrives with a secret that can only be told in person.",
        "titles": ("Big News", "The Memory Box", "Dear Best Friend"),
        "pictures": ("sitting together with a best friend", "sitting quietly with a friend who has big news",
                     "giving a friend a wooden memory box at sunset", "reading a letter from a faraway friend"),
    },
}

# The lost little one, per setting family.
BABIES = {"forest": "owlet", "jungle": "monkey", "sea": "sea turtle", "space": "comet", "castle": "kitten",
          "town": "puppy", "snow": "penguin chick", "sky": "cloud", "desert": "meerkat", "candy": "gumdrop",
          "home": "kitten", "meadow": "duckling", "anywhere": "duckling"}
