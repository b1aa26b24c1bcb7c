"""keras.io examples/nlp/lstm_seq2seq.py: character-level seq2seq with the functional API.

Imports changed to ``import rnnkit as keras``. The example reads 10,000 English-French pairs
(fra.txt); this uses 24 short English-Spanish pairs written here, 32 latent units (the
example: 256) and 30 epochs. Everything else runs as in the example: teacher-forcing
model from ``return_state``/``initial_state``, ``model.save("s2s_model.keras")``,
``keras.models.load_model``, and the sampling models rebuilt from the loaded model's
``input`` and its layers' ``output``.
"""

from __future__ import annotations

import numpy as np

import rnnkit as keras

PAIRS = [
    ("Go.", "Ve."), ("Hi.", "Hola."), ("Run!", "Corre!"), ("Wait.", "Espera."), ("I see.", "Ya veo."),
    ("I won.", "Gane."), ("Help!", "Ayuda!"), ("Stop!", "Para!"), ("Thanks.", "Gracias."),
    ("Come in.", "Entra."), ("I know.", "Lo se."), ("Be calm.", "Calmate."), ("I agree.", "De acuerdo."),
    ("Get out.", "Sal."), ("Go away.", "Vete."), ("Hurry up.", "Date prisa."), ("I'm ok.", "Estoy bien."),
    ("Look out!", "Cuidado!"), ("See you.", "Nos vemos."), ("Sit down.", "Sientate."),
    ("Who won?", "Quien gano?"), ("It's me.", "Soy yo."), ("Be nice.", "Se bueno."), ("Call me.", "Llamame."),
]  # fmt: skip


def test_lstm_seq2seq(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    keras.set_seed(0)
    batch_size, epochs, latent_dim = 8, 30, 32
    input_texts, target_texts = [], []
    input_characters, target_characters = set(), set()
    for input_text, target_text in PAIRS:
        target_text = "\t" + target_text + "\n"
        input_texts.append(input_text)
        target_texts.append(target_text)
        input_characters.update(input_text)
        target_characters.update(target_text)
    input_characters.add(" ")
    target_characters.add(" ")
    input_characters, target_characters = sorted(input_characters), sorted(target_characters)
    num_encoder_tokens, num_decoder_tokens = len(input_characters), len(target_characters)
    max_encoder_seq_length = max(len(t) for t in input_texts)
    max_decoder_seq_length = max(len(t) for t in target_texts)
    input_token_index = {char: i for i, char in enumerate(input_characters)}
    target_token_index = {char: i for i, char in enumerate(target_characters)}

    shape = (len(input_texts), max_decoder_seq_length, num_decoder_tokens)
    encoder_input_data = np.zeros(
        (len(input_texts), max_encoder_seq_length, num_encoder_tokens), dtype="float32"
    )
    decoder_input_data = np.zeros(shape, dtype="float32")
    decoder_target_data = np.zeros(shape, dtype="float32")
    for i, (input_text, target_text) in enumerate(zip(input_texts, target_texts, strict=True)):
        for t, char in enumerate(input_text):
            encoder_input_data[i, t, input_token_index[char]] = 1.0
        encoder_input_data[i, t + 1 :, input_token_index[" "]] = 1.0
        for t, char in enumerate(target_text):
            decoder_input_data[i, t, target_token_index[char]] = 1.0
            if t > 0:
                decoder_target_data[i, t - 1, target_token_index[char]] = 1.0
        decoder_input_data[i, t + 1 :, target_token_index[" "]] = 1.0
        decoder_target_data[i, t:, target_token_index[" "]] = 1.0

    encoder_inputs = keras.Input(shape=(None, num_encoder_tokens))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    _encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = keras.Input(shape=(None, num_decoder_tokens))
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = keras.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)

    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        [encoder_input_data, decoder_input_data],
        decoder_target_data,
        batch_size=batch_size,
        epochs=epochs,
        validation_split=0.2,
        verbose=0,
    )
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    model.save("s2s_model.keras")

    # Define sampling models: restore the model and construct the encoder and decoder.
    model = keras.models.load_model("s2s_model.keras")
    encoder_inputs = model.input[0]
    _encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output
    encoder_states = [state_h_enc, state_c_enc]
    encoder_model = keras.Model(encoder_inputs, encoder_states)

    decoder_inputs = model.input[1]
    decoder_state_input_h = keras.Input(shape=(latent_dim,))
    decoder_state_input_c = keras.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(
        decoder_inputs, initial_state=decoder_states_inputs
    )
    decoder_states = [state_h_dec, state_c_dec]
    decoder_dense = model.layers[4]
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = keras.Model([decoder_inputs] + decoder_states_inputs, [decoder_outputs] + decoder_states)
    reverse_target_char_index = {i: char for char, i in target_token_index.items()}

    def decode_sequence(input_seq):
        states_value = encoder_model.predict(input_seq, verbose=0)
        target_seq = np.zeros((1, 1, num_decoder_tokens))
        target_seq[0, 0, target_token_index["\t"]] = 1.0
        decoded_sentence = ""
        while True:
            output_tokens, h, c = decoder_model.predict([target_seq] + states_value, verbose=0)
            sampled_token_index = np.argmax(output_tokens[0, -1, :])
            sampled_char = reverse_target_char_index[sampled_token_index]
            decoded_sentence += sampled_char
            if sampled_char == "\n" or len(decoded_sentence) > max_decoder_seq_length:
                return decoded_sentence
            target_seq = np.zeros((1, 1, num_decoder_tokens))
            target_seq[0, 0, sampled_token_index] = 1.0
            states_value = [h, c]

    # The loaded model's teacher-forced predictions equal the rebuilt encoder + decoder's.
    full = model.predict([encoder_input_data[:2], decoder_input_data[:2]], verbose=0)
    states = encoder_model.predict(encoder_input_data[:2], verbose=0)
    stepped = decoder_model.predict([decoder_input_data[:2], *states], verbose=0)[0]
    np.testing.assert_allclose(stepped, full, atol=1e-5)
    decoded = [decode_sequence(encoder_input_data[i : i + 1]) for i in range(4)]
    assert all(0 < len(d) <= max_decoder_seq_length + 1 for d in decoded)
    assert all(set(d) <= set(target_characters) for d in decoded)
