"""Numbers that say how good a generative model is, computed rather than claimed.

`images`: the digit classifier and the scores built on its features (FID, KID, precision and
recall, density and coverage), likelihood bounds, PSNR/SSIM, memorisation, score tables.
`text`: the count-based unigram and bigram baselines, nats and bits per token, diversity and copying.
`music`: piano-roll scores (pitch classes, scale, polyphony, empty bars, qualified notes) and
voice leading of four-voice chorales (ranges, crossings, parallel fifths and octaves, notes per bar).
`attributes`: slant, stroke thickness and height of digits, measured from their pixels.
`restoration`: PSNR, SSIM, accuracy and sharpness of restored / upscaled / translated digits.
`representations`: linear probe and kNN accuracy of learned features (chosen on validation only).
`privacy`: membership inference, canary exposure and exact copies of training texts, anonymisation.
`toy`: coverage of the 2-D ring of Gaussians.
"""

from keras_genai.evaluation.attributes import digit_attributes
from keras_genai.evaluation.images import (
    CEILING, SCORE_COLUMNS, ConfidenceReport, DigitClassifier, LabelAccuracy, bits_per_dim, confidence_report,
    density_coverage, digit_classifier, fid, fit_digit_classifier, frechet_distance, image_scores, inception_score, iwae_bound, kid,
    knn_radii, label_accuracy, manifold_scores, memorisation_check, nearest_neighbours, per_class_scores,
    precision_recall, psnr, score_table, scorecard, ssim,
)
from keras_genai.evaluation.music import (
    REST, SATB_RANGES, empty_bar_rate, in_scale_ratio, note_lengths, notes_per_bar, parallel_fifths_octaves,
    pitch_class_distance, pitch_class_histogram, polyphony, qualified_note_rate, voice_crossings,
    voice_range_violations,
)
from keras_genai.evaluation.privacy import (
    CanaryExposure, ExactCopies, MembershipAttack, anonymise, canary_exposure, exact_copies, membership_inference,
    sequence_nll,
)
from keras_genai.evaluation.restoration import gradient_energy, restoration_scores
from keras_genai.evaluation.representations import LinearProbe, knn_accuracy, linear_probe
from keras_genai.evaluation.text import (
    BigramBaseline, UnigramBaseline, copy_rate, distinct_ngrams, likelihood_report, nats_under_sampler, text_scores,
)
from keras_genai.evaluation.toy import RingCoverage, ring_coverage
