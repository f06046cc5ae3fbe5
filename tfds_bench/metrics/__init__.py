"""Benchmark metrics: pure numpy definitions plus thin Keras metric classes.

The numpy functions are the definitions (and what `--predictions` scoring
uses; ``effective_robustness`` works on results records; ``intervals`` has
the 95 % intervals and the paired tests); the Keras classes
(``TopKAccuracy``, ``ReaLAccuracy``, ``MultiLabelAccuracy``,
``ExpectedCalibrationError``, ``OODAveragePrecision``, ``OODAUROC``, ``OpenOODMetric``,
``SixteenClassAccuracy``, ``ShapeBias``, ``PerClassAccuracy``, ``BalancedAccuracy``,
``WorstClassAccuracy``) keep
sufficient statistics that reproduce them. The Keras classes are imported
lazily so that numpy-only scoring never loads TensorFlow.
"""

from tfds_bench.metrics.accuracy import (MULTILABEL_VARIANTS, as_top_k,
                                         class_mean_accuracy,
                                         encode_multilabel_targets,
                                         multilabel_accuracy,
                                         multilabel_accuracy_from_counts,
                                         real_correct, subset_top_k,
                                         top_k_indices, topk_correct)
from tfds_bench.metrics.breakdown import (Counts, balanced_accuracy,
                                          class_counts, error_ratio,
                                          factor_accuracies,
                                          factor_error_ratios,
                                          group_of_labels,
                                          group_top_k_correct,
                                          per_class_accuracy,
                                          worst_class_accuracy,
                                          worst_fraction_accuracy)
from tfds_bench.metrics.calibration import (ece_from_sums,
                                            equal_width_bin_index,
                                            expected_calibration_error,
                                            reliability_diagram,
                                            rms_calibration_error,
                                            softmax_confidence)
from tfds_bench.metrics.corruption import (HELDOUT_CORRUPTIONS, SEVERITIES,
                                           TEST_CORRUPTIONS, AlexNetImageNetC,
                                           BaselineErrors, alexnet_imagenet_c,
                                           corruption_error_ratios,
                                           corruption_errors, mce,
                                           relative_mce)
from tfds_bench.metrics.intervals import (PairedTest, bootstrap_interval,
                                          clopper_pearson, mcnemar_exact,
                                          paired_bootstrap)
from tfds_bench.metrics.model_vs_human import (accuracy_difference,
                                               category_probabilities,
                                               error_consistency,
                                               expected_consistency,
                                               human_pairs_mean,
                                               observed_consistency, pairwise,
                                               shape_bias,
                                               shape_bias_per_category,
                                               shape_texture_hits,
                                               sixteen_class_decisions,
                                               subject_mean,
                                               two_level_bootstrap_interval)
from tfds_bench.metrics.ood import (auroc, auroc_from_histogram, aupr,
                                    average_precision_from_histogram,
                                    confidence_histogram, ood_scores)
from tfds_bench.metrics.openood import (FAR_OOD_SETS, LOGIT_SCORE_NAMES,
                                        NEAR_OOD_SETS, OOD_METRIC_NAMES,
                                        binned_ood_metrics, group_means,
                                        logit_scores, ood_metrics)
from tfds_bench.metrics.perturbation import (HELDOUT_PERTURBATIONS,
                                             TEST_PERTURBATIONS,
                                             flip_probability, frame_pairs,
                                             is_noise_perturbation,
                                             mean_flip_rate,
                                             mean_top5_distance, mfp, mt5d,
                                             top5_distance,
                                             top5_pair_distance)
from tfds_bench.metrics.robustness import (RobustnessFit,
                                           effective_robustness, expit, logit,
                                           robustness_fit, shifted_benchmarks)

_KERAS_NAMES = (
    "TopKAccuracy", "ReaLAccuracy", "MultiLabelAccuracy", "ExpectedCalibrationError",
    "OODAveragePrecision", "OODAUROC", "encode_multilabel_target",
    "SixteenClassAccuracy", "ShapeBias", "OpenOODMetric",
    "PerClassAccuracy", "BalancedAccuracy", "WorstClassAccuracy",
)


def __getattr__(name):
  # PEP 562: load TensorFlow/Keras only when a Keras class is asked for.
  if name in _KERAS_NAMES:
    from tfds_bench.metrics import keras_metrics  # lazy: tensorflow
    return getattr(keras_metrics, name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted(list(globals()) + list(_KERAS_NAMES))
