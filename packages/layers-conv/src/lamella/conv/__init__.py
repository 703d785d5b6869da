"""lamella-layers-conv: convolution, pooling, padding and up-sampling layers"""
