"""Data that works offline and says where it came from: images, captions, moving digits, toy 2-D data, text,
Bach chorales and audio.

Each loader uses bigger public data when it is cached or reachable and data shipped inside
an installed package otherwise, and prints which. Sequence data is split by name, document
or date, never by character offset, so held-out text is unseen text.
"""

from keras_genai.datasets import degradations
from keras_genai.datasets.audio import audio_windows, check_audio_ids, mu_law_decode, mu_law_encode, split_audio
from keras_genai.datasets.captions import (
    DIGIT_WORDS, SLANT_WORDS, THICKNESS_WORDS, AttributeLevels, DigitCaptions, caption, digit_captions,
)
from keras_genai.datasets.images import (
    FAMILY_RANGES, IMAGE_SHAPE, ImageData, image_dataset, load_embedded_mnist, load_mnist, scale_images,
    stratified_split, unscale_images,
)
from keras_genai.datasets.music import (
    HOLD, REST, REST_TOKEN, VOICE_NAMES, Chorale, ChoraleData, NotAChorale, augment_transpositions, chorale_tokens,
    chorale_windows, count_orphan_holds, load_chorales, render_audio, roll_to_voices, score_to_chorale, to_midi,
    tokens_to_voices, transpose, voice_ranges, voices_to_roll,
)
from keras_genai.datasets.text import (
    DATE_FORMATS, HELD_OUT_DATE_FORMATS, DateData, DatePairs, TextData, format_date, load_dates, load_names,
    load_prose, sequence_dataset, token_windows,
)
from keras_genai.datasets.toy import ring_centres, ring_of_gaussians
from keras_genai.datasets.video import moving_digits
