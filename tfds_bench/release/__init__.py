"""How the released test sets were made, replicated image by image.

Shared by the builders that generate a test set from the ImageNet val archive
(`bench_imagenet_c`, `bench_imagenet_c_bar`, `bench_imagenet_p`, `bench_sample_c`,
`bench_sample_c_bar`, `bench_sample_p`)
and by the on-the-fly path of evaluation, so that both produce exactly the
same pixels. Nothing here scores predictions or knows the benchmark table
(docs/architecture.md):

* `common`: the ImageNet val archive's layout, PIL decode, torchvision's
  Resize / CenterCrop, per-image seeds.
* `imagenet_c`: ImageNet-C's configs, release pipeline (crop, corrupt, JPEG
  round trip), released-archive layout and the on-the-fly tf.data map.
* `imagenet_p`: ImageNet-P's sequences as frame examples and its released
  videos.
"""
