"""Preparation of the public data sets into the layouts the datasets read.

    python -m data.prepare imagenet-val --images ILSVRC2012_img_val --devkit ILSVRC2012_devkit_t12.tar.gz --out IMAGENET/validation
    python -m data.prepare sbd --sbd benchmark_RELEASE/dataset --voc VOCdevkit
    python -m data.prepare coco-voc --coco COCO --out COCO_VOC

``python -m data.prepare COMMAND --help`` describes each.
"""
