"""Names shared by the Transform graph, the Trainer, the export and the Evaluator: the transformed-feature
contract."""

INPUT_IDS = "input_ids"
ATTENTION_MASK = "attention_mask"
TOKEN_TYPE_IDS = "token_type_ids"
MODEL_INPUTS = (INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS)

LABEL_ID = "label_id"  # class index into the label vocabulary (multi-label: the indices of a text's labels)
LABEL_VOCABULARY = "label"  # TFT vocabulary file holding the class names, most frequent first
