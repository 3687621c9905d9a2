"""The vision zoo: image classifiers from AlexNet to ConvNeXt, built from the blocks in `conv_blocks`.

Every model adapts to the image size it is given (8x8 digits to ImageNet-sized images): its stem
downsamples only where the image is large enough, its stages stop halving the feature map before it
would shrink below 2 px, kernels shrink on maps too small for them, and global average pooling feeds
the classifier.
"""
