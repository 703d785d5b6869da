"""lamella-io-hdf5: Keras HDF5 model and weight files"""
