"""The character-level language model: vocabulary, data, model, training and sampling for lists of names."""
