"""A TensorFlow program for the spark-shell Pipeline test: a small Keras regressor under
MultiWorkerMirroredStrategy, fed by sparktf; the chief exports a SavedModel to ctx.export_dir."""


def main_fun(args, ctx):
    import tensorflow as tf
    import tf_keras as keras

    from sparktf.program.export import export_saved_model

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = keras.Sequential(
            [
                keras.Input(shape=(4,), name="x"),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(1, name="score"),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    model.fit(ctx.get_data_feed().dataset(32, features=["x"], label="y"), epochs=1, verbose=0)
    export_saved_model(model, ctx)
