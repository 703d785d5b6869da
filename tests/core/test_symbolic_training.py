"""Training with symbolic extras: losses over intermediate tensors, ``add_loss``,
and what ``losses`` and ``updates`` list."""

import numpy as np
import torch

from lamella import backend as K
from lamella import objectives, regularizers
from lamella.layers import Dense, Input, Lambda
from lamella.models import Model, Sequential

RNG = np.random.default_rng(11)


def build_vae(batch, original_dim, latent_dim, noise):
    """Keras 1.2.2's variational autoencoder, with fixed noise so it can be checked."""
    x = Input(batch_shape=(batch, original_dim))
    h = Dense(6, activation="relu")(x)
    z_mean = Dense(latent_dim)(h)
    z_log_var = Dense(latent_dim)(h)

    def sampling(args):
        mean, log_var = args
        return mean + K.exp(log_var / 2) * K.variable(noise)

    z = Lambda(sampling, output_shape=(latent_dim,))([z_mean, z_log_var])
    decoded = Dense(original_dim, activation="sigmoid")(Dense(6, activation="relu")(z))

    def vae_loss(x, x_decoded_mean):
        xent_loss = original_dim * objectives.binary_crossentropy(x, x_decoded_mean)
        kl_loss = -0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
        return xent_loss + kl_loss

    return Model(x, decoded), vae_loss


def test_vae_loss_over_intermediate_tensors_matches_a_hand_written_step():
    batch, original_dim, latent_dim = 8, 10, 2
    noise = RNG.normal(size=(batch, latent_dim)).astype("float32")
    vae, vae_loss = build_vae(batch, original_dim, latent_dim, noise)
    vae.compile(optimizer=torch.optim.SGD(vae.parameters(), lr=0.1), loss=vae_loss)
    data = RNG.uniform(size=(batch, original_dim)).astype("float32")

    dense = [layer for layer in vae.layers if isinstance(layer, Dense)]
    params = [torch.tensor(w, requires_grad=True) for layer in dense for w in layer.get_weights()]
    enc_W, enc_b, mean_W, mean_b, var_W, var_b, dh_W, dh_b, out_W, out_b = params
    x = torch.tensor(data)
    h = torch.relu(x @ enc_W + enc_b)
    z_mean, z_log_var = h @ mean_W + mean_b, h @ var_W + var_b
    z = z_mean + torch.exp(z_log_var / 2) * torch.tensor(noise)
    out = torch.sigmoid(torch.relu(z @ dh_W + dh_b) @ out_W + out_b)
    p = out.clamp(1e-7, 1 - 1e-7)
    xent = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).mean(-1) * original_dim
    kl = -0.5 * (1 + z_log_var - z_mean**2 - torch.exp(z_log_var)).sum(-1)
    expected_loss = (xent + kl).mean()
    expected_loss.backward()

    loss = vae.train_on_batch(data, data)
    np.testing.assert_allclose(loss, expected_loss.item(), rtol=1e-5)
    after = [w for layer in dense for w in layer.get_weights()]
    for value, param in zip(after, params, strict=True):
        expected = (param - 0.1 * param.grad).detach().numpy()
        np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-6)


def test_vae_trains_with_fit_and_its_encoder_predicts():
    batch, original_dim = 10, 12
    vae, vae_loss = build_vae(batch, original_dim, 2, np.zeros((batch, 2), "float32"))
    vae.compile(torch.optim.RMSprop, vae_loss)  # core alone has torch's optimizers
    data = (RNG.uniform(size=(50, original_dim)) > 0.5).astype("float32")
    history = vae.fit(data, data, batch_size=batch, nb_epoch=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert np.isfinite(vae.evaluate(data, data, batch_size=batch, verbose=0))


def test_add_loss_of_a_symbolic_tensor_is_trained():
    x = Input(shape=(3,))
    dense = Dense(2, bias=False)
    y = dense(x)
    dense.add_loss(0.5 * K.mean(K.square(y)), inputs=x)
    model = Model(x, y)
    model.compile(torch.optim.SGD(model.parameters(), lr=0.1), "mse")
    a = RNG.normal(size=(4, 3)).astype("float32")
    target = RNG.normal(size=(4, 2)).astype("float32")
    W = torch.tensor(dense.get_weights()[0], requires_grad=True)
    out = torch.tensor(a) @ W
    total = ((out - torch.tensor(target)) ** 2).mean() + 0.5 * (out**2).mean()
    total.backward()
    loss = model.train_on_batch(a, target)
    np.testing.assert_allclose(loss, total.item(), rtol=1e-5)
    np.testing.assert_allclose(
        dense.get_weights()[0], (W - 0.1 * W.grad).detach().numpy(), rtol=1e-5
    )


def test_losses_list_regularization_and_added_losses():
    model = Sequential(
        [
            Dense(4, input_dim=3, W_regularizer=regularizers.l2(0.1)),
            Dense(2, activity_regularizer=regularizers.activity_l1(0.01)),
        ]
    )
    weight_penalty, activity = model.losses
    W = model.layers[0].get_weights()[0]
    np.testing.assert_allclose(K.get_value(weight_penalty), 0.1 * (W**2).sum(), rtol=1e-5)
    assert K.is_keras_tensor(activity)  # computed from the layer's output, per call
    a = RNG.normal(size=(5, 3)).astype("float32")
    expected = 0.01 * np.abs(model.predict(a)).sum()
    np.testing.assert_allclose(K.function([model.input], [activity])([a])[0], expected, rtol=1e-5)


def test_losses_and_updates_by_inputs():
    a, b = Input(shape=(2,)), Input(shape=(2,))
    dense = Dense(3)
    dense(a)
    dense(b)
    dense.add_loss("on a", inputs=a)
    dense.add_loss("always", inputs=None)
    dense.add_update("update a", inputs=a)
    assert dense.get_losses_for(a) == ["on a"]
    assert dense.get_losses_for(None) == ["always"]
    assert dense.get_updates_for(a) == ["update a"]
    assert dense.get_updates_for(b) == []
    model = Model(b, dense.get_output_at(1))
    assert model.losses == ["always"]  # the call on a is not this model's
    assert model.updates == []


def test_gradient_penalty_of_the_input_trains_through_double_backward():
    x = Input(shape=(3,))
    dense = Dense(1)
    y = dense(x)
    (grad,) = K.gradients(K.sum(K.square(y)), x)
    norm = K.sqrt(K.sum(K.square(grad), axis=1))
    dense.add_loss(K.mean(K.square(norm - 1)), inputs=x)
    model = Model(x, y)
    assert K.int_shape(Model(x, grad).output) == (None, 3)
    model.compile(torch.optim.SGD(model.parameters(), lr=0.01), "mse")
    a = RNG.normal(size=(4, 3)).astype("float32")
    W, b = (torch.tensor(w, requires_grad=True) for w in dense.get_weights())
    xs = torch.tensor(a, requires_grad=True)
    out = xs @ W + b
    (g,) = torch.autograd.grad((out**2).sum(), xs, create_graph=True)
    total = (out**2).mean() + ((g.norm(dim=1) - 1) ** 2).mean()
    total.backward()
    loss = model.train_on_batch(a, np.zeros((4, 1), "float32"))
    np.testing.assert_allclose(loss, total.item(), rtol=1e-5)
    for value, param in zip(dense.get_weights(), (W, b), strict=True):
        expected = (param - 0.01 * param.grad).detach()
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)
    # predict runs the graph with autograd when an output is a gradient
    values = Model(x, grad).predict(a)
    np.testing.assert_allclose(
        values,
        2 * (a @ dense.get_weights()[0] + dense.get_weights()[1]) * dense.get_weights()[0].T,
        rtol=1e-5,
        atol=1e-6,
    )
