"""lamella-preprocessing: image, sequence and text preprocessing"""
