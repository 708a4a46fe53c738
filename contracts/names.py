"""Names that several packages must spell alike: the pipeline's component ids and the output keys read
back from ML Metadata, the splits, the Evaluator's metrics, and the exported model's signatures."""

# Component ids (pipeline/pipeline.py sets them; summaries and reports look outputs up by them).
CSV_EXAMPLE_GEN = "CsvExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "ImportSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
ANOMALIES_GATE = "AnomaliesGate"
DRIFT_CHECK = "DriftCheck"
TRANSFORM = "Transform"
TRAINER = "Trainer"
BASELINE_RESOLVER = "latest_blessed_model_resolver"
EVALUATOR = "Evaluator"
BLESSING_GATE = "BlessingGate"
BATCH_SCORING = "BatchScoring"
PUSHER = "ServingPusher"

# Output keys of those components (TFX's standard ones).
EXAMPLES = "examples"
STATISTICS = "statistics"
ANOMALIES = "anomalies"
MODEL = "model"
EVALUATION = "evaluation"
BLESSING = "blessing"
PUSHED_MODEL = "pushed_model"

TRAIN_SPLIT, EVAL_SPLIT = "train", "eval"

# The Evaluator's metrics (components/evaluation.py) as TFMA names them.
ACCURACY = "sparse_categorical_accuracy"
EXAMPLE_COUNT = "example_count"
F1_SCORE = "f1_score"  # a multi-label model's, per label and macro-averaged (the blessing's metric)

# The exported model's signatures (model/export.py), their inputs and outputs.
SERVING_DEFAULT = "serving_default"  # text (and text_pair, for a sentence-pair model) -> outputs
SERVING_TF_EXAMPLE = "serving_tf_example"  # serialized tf.Example of the raw features -> outputs
TRANSFORM_FEATURES = "transform_features"  # serialized tf.Example -> transformed features (TFMA)
TEXT_INPUT = "text"
TEXT_PAIR_INPUT = "text_pair"  # a sentence-pair model's second text ([CLS] text [SEP] text_pair [SEP])
EXAMPLES_INPUT = "examples"
PROBABILITIES, LABEL, CLASS_ID = "probabilities", "label", "class_id"
OUTPUTS = (PROBABILITIES, LABEL, CLASS_ID)
ANSWERED = "answered"  # a multi-label model's too: 1 for each label answered yes (above its threshold), else 0
