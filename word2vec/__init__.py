"""word2vec: skip-gram and CBOW with NCE loss, evaluation and projector export."""
