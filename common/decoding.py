"""Greedy and beam search over a decoder's step function, in TensorFlow ops.

Any autoregressive decoder (translation, image captioning) hands over one
function that advances every hypothesis by one token:

    step_fn(tokens, state) -> (log_probs, state)            or
    step_fn(tokens, state) -> (log_probs, state, emitted)

    tokens     (rows,) int32: each row's last token (<start> at the first step)
    state      any nest of tensors whose first dimension is `rows`
    log_probs  (rows, vocab) float32: log P(next token | the row's prefix)
    emitted    optional (rows, ...) float32 recorded at every step (attention weights)

and gets the decoded tokens back:

    out = greedy_search(step_fn, initial_state, batch_size, max_length)
    out = beam_search(step_fn, initial_state, batch_size, beam, max_length)
    out["tokens"]   (batch, T) int32, T <= max_length: the tokens, <end> included,
                    <pad> after it
    out["lengths"]  (batch,) int32: tokens before <end> (T when none came)
    out["scores"]   (batch,) float32: the sum of the chosen tokens' log-probabilities
    out["emitted"]  (batch, T, ...) what step_fn emitted along the chosen hypothesis
                    (zeros after its <end>); absent when step_fn emits nothing

`initial_state` has `batch_size` rows. Greedy search calls step_fn with
rows = batch_size. Beam search calls it with rows = batch_size * beam,
batch-major: row b * beam + k is hypothesis k of example b; it repeats the
initial state per hypothesis itself, and reorders rows only within an
example, so a step function may close over per-example tensors repeated with
`tile_beams(x, beam)` (an encoder's outputs, an image's features) instead of
carrying them in the state.

Beam search keeps the `beam` best prefixes by summed log-probability (no
length normalisation). A finished hypothesis stays in the pool with its
score and competes with the unfinished ones; since every further token can
only lower a score, the search stops as soon as each example's best
hypothesis is finished (or after max_length tokens). With beam 1 it is
greedy search, token for token (tests/test_decoding.py). <pad> and <start>
are never emitted. Both searches are deterministic: ties go to the lower
token id and, among hypotheses, to the lower row.
"""

import tensorflow as tf

from common.tokens import END_ID, PAD_ID, START_ID

NEG_INF = float("-inf")


def tile_beams(x, beam):
    """(batch, ...) -> (batch * beam, ...): each example's row repeated `beam` times."""
    return tf.repeat(x, beam, axis=0)


def _step(step_fn, tokens, state):
    """(log_probs, state, emitted or None): step_fn's answer, the optional part made explicit."""
    out = step_fn(tokens, state)
    if len(out) == 2:
        return out[0], out[1], None
    return out


def _banned(log_probs, banned_ids):
    """log_probs (rows, vocab) with the banned tokens (<pad>, <start>) set to -inf."""
    vocab = tf.shape(log_probs)[1]
    banned = tf.reduce_any(tf.equal(tf.range(vocab)[:, None], tf.constant(banned_ids)[None]),
                           axis=1)  # (vocab,)
    return tf.where(banned[None, :], tf.constant(NEG_INF, log_probs.dtype), log_probs)


def _rows_vary(state):
    """Shape invariants of a state nest for tf.while_loop: any number of rows."""
    return tf.nest.map_structure(lambda part: tf.TensorShape([None, *part.shape[1:]]), state)


def _lengths(tokens, end_id):
    """(batch,) tokens before the first <end> of tokens (batch, T)."""
    is_end = tf.cast(tf.equal(tokens, end_id), tf.int32)
    seen_end = tf.cumsum(is_end, axis=1)  # (batch, T): 1 from the first <end> on
    return tf.reduce_sum(tf.cast(tf.equal(seen_end, 0), tf.int32), axis=1)


def greedy_search(step_fn, initial_state, batch_size, max_length, start_id=START_ID,
                  end_id=END_ID, pad_id=PAD_ID):
    """The most probable next token at every step; see the module docstring."""
    banned, emits = [pad_id, start_id], []

    def advance(t, tokens, state, finished, scores, history, emitted_history):
        log_probs, state, emitted = _step(step_fn, tokens, state)
        emits.append(None if emitted is None else emitted.shape.rank)
        log_probs = _banned(log_probs, banned)
        chosen = tf.argmax(log_probs, axis=1, output_type=tf.int32)  # (batch,)
        chosen = tf.where(finished, pad_id, chosen)
        gained = tf.gather(log_probs, chosen, batch_dims=1)
        scores = scores + tf.where(finished, tf.zeros_like(gained), gained)
        history = history.write(t, chosen)
        if emitted is not None:
            keep = tf.reshape(tf.logical_not(finished), [-1] + [1] * (emitted.shape.rank - 1))
            emitted_history = emitted_history.write(t, tf.where(keep, emitted,
                                                                tf.zeros_like(emitted)))
        return (t + 1, chosen, state, finished | tf.equal(chosen, end_id), scores, history,
                emitted_history)

    tokens = tf.fill([batch_size], tf.constant(start_id, tf.int32))
    finished = tf.zeros([batch_size], tf.bool)
    scores = tf.zeros([batch_size], tf.float32)
    history = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
    emitted_history = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)
    # The first step runs before the loop, so the loop's variables are known (whether
    # step_fn emits anything, what its state looks like after a step).
    loop_vars = advance(tf.constant(0), tokens, initial_state, finished, scores, history,
                        emitted_history)
    rows = tf.TensorShape([None])
    loop_vars = tf.while_loop(
        lambda t, tokens, state, finished, *_: tf.logical_and(
            t < max_length, tf.logical_not(tf.reduce_all(finished))),
        advance, loop_vars,
        shape_invariants=(tf.TensorShape([]), rows, _rows_vary(loop_vars[2]), rows, rows,
                          tf.TensorShape(None), tf.TensorShape(None)))
    _, _, _, _, scores, history, emitted_history = loop_vars
    tokens = tf.transpose(history.stack())  # (batch, T)
    out = {"tokens": tokens, "lengths": _lengths(tokens, end_id), "scores": scores}
    if emits[0] is not None:
        stacked = emitted_history.stack()  # (T, batch, ...)
        out["emitted"] = tf.transpose(stacked, [1, 0, *range(2, emits[0] + 1)])
    return out


def beam_search(step_fn, initial_state, batch_size, beam, max_length, start_id=START_ID,
                end_id=END_ID, pad_id=PAD_ID):
    """The `beam` best prefixes at every step; see the module docstring. `beam` may be a
    scalar tensor (an exported signature's input)."""
    banned, rows, emits = [pad_id, start_id], batch_size * beam, []
    beam_index = tf.range(batch_size)[:, None] * beam  # (batch, 1): each example's first row

    def advance(t, tokens, state, finished, scores, history, emitted_history):
        log_probs, state, emitted = _step(step_fn, tokens, state)  # (rows, vocab)
        emits.append(emitted is not None)
        log_probs = _banned(log_probs, banned)
        vocab = tf.shape(log_probs)[1]
        # A finished hypothesis goes on only with <pad>, at no cost: its score stays.
        pad_only = tf.where(tf.equal(tf.range(vocab), pad_id), 0.0, NEG_INF)  # (vocab,)
        log_probs = tf.where(finished[:, None], pad_only[None, :], log_probs)
        total = tf.reshape(scores[:, None] + log_probs, [batch_size, beam * vocab])
        top_scores, top = tf.math.top_k(total, k=beam)  # (batch, beam), best first
        parents = tf.reshape(top // vocab + beam_index, [-1])  # (rows,) rows they extend
        chosen = tf.reshape(top % vocab, [-1])  # (rows,)
        history = tf.gather(history, parents, axis=1)  # (max_length, rows)
        history = tf.tensor_scatter_nd_update(history, [[t]], chosen[None])
        was_finished = tf.gather(finished, parents)
        if emitted is not None:
            emitted = tf.gather(emitted, parents)  # (rows, ...)
            keep = tf.reshape(tf.logical_not(was_finished),
                              [-1] + [1] * (emitted.shape.rank - 1))
            emitted = tf.where(keep, emitted, tf.zeros_like(emitted))
            if emitted_history is None:  # the first step: (max_length, rows, ...) zeros
                emitted_history = tf.zeros(tf.concat([[max_length], tf.shape(emitted)], 0))
            emitted_history = tf.gather(emitted_history, parents, axis=1)
            emitted_history = tf.tensor_scatter_nd_update(emitted_history, [[t]], emitted[None])
        elif emitted_history is None:
            emitted_history = tf.zeros([0])
        state = tf.nest.map_structure(lambda part: tf.gather(part, parents), state)
        finished = was_finished | tf.equal(chosen, end_id)
        return (t + 1, chosen, state, finished, tf.reshape(top_scores, [-1]), history,
                emitted_history)

    state = tf.nest.map_structure(lambda part: tile_beams(part, beam), initial_state)
    tokens = tf.fill([rows], tf.constant(start_id, tf.int32))
    # Only hypothesis 0 of each example is alive at first; the others join as it branches.
    first = tf.where(tf.range(beam) == 0, 0.0, NEG_INF)  # (beam,)
    scores = tf.tile(first, [batch_size])
    history = tf.fill([max_length, rows], tf.constant(pad_id, tf.int32))
    # The first step runs before the loop, so the loop's variables are known.
    loop_vars = advance(tf.constant(0), tokens, state, tf.zeros([rows], tf.bool), scores,
                        history, None)

    def best_unfinished(t, tokens, state, finished, *_):
        best_done = tf.reshape(finished, [batch_size, beam])[:, 0]
        return tf.logical_and(t < max_length, tf.logical_not(tf.reduce_all(best_done)))

    varying = tf.TensorShape([None])
    steps, _, _, _, scores, history, emitted_history = tf.while_loop(
        best_unfinished, advance, loop_vars,
        shape_invariants=(tf.TensorShape([]), varying, _rows_vary(loop_vars[2]), varying,
                          varying, tf.TensorShape([None, None]),
                          tf.TensorShape([None] * loop_vars[-1].shape.rank)))
    best = beam_index[:, 0]  # (batch,): top_k sorts, so hypothesis 0 is the best
    tokens = tf.transpose(tf.gather(history, best, axis=1)[:steps])  # (batch, T)
    out = {"tokens": tokens, "lengths": _lengths(tokens, end_id),
           "scores": tf.gather(scores, best)}
    if emits[0]:
        chosen = tf.gather(emitted_history, best, axis=1)[:steps]  # (T, batch, ...)
        out["emitted"] = tf.transpose(chosen, [1, 0, *range(2, chosen.shape.rank)])
    return out
