"""lamella-io-hdf5: Keras HDF5 model and weight files (``model.save('model.h5')``)."""
