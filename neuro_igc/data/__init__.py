"""NSD data layer: loaders, image features, torch Datasets and the synthetic NSD-like folder.

Main entry points
-----------------
NSD                 an NSD folder (real or synthetic): betas, stimuli, ROIs, responses, ncsnr
Betas               single-trial responses with their trial and feature metadata
SurfaceSpace        where features live on a surface (fsaverage density or native; lh then rh)
VolumeSpace         where features live in a volume (voxel indices, affine, shape)
LookupTable         label index -> ROI name (and colours); read_ctab / write_ctab / nsd_table
ROILabels           ROI labels aligned with a feature vector, with the lookup table and source
noise_ceiling       noise ceiling (percent) from ncsnr
DecodingDataset     betas -> image statistics (several subjects, with the subject index)
EncodingDataset     images -> betas (one or several subjects)
make_nsd_like       write a synthetic NSD folder with a planted truth (``neuro_igc.data.synthetic``)
features            luminance contrast and 1/f spectral slope (``neuro_igc.data.features``)
nsd_manifest        the NSD files a pipeline run reads, with their expected formats
check_nsd           check a folder against a manifest (headers only)
fetch_nsd           download a manifest's files from NSD's public bucket (resumable)
"""

from neuro_igc.data._betas import (
    Betas,
    SharedSplit,
    TrainValSplit,
    average_repeats,
    split_shared,
    train_val_split,
    zscore_per_session,
)
from neuro_igc.data._check import CheckReport, check_nsd
from neuro_igc.data._datasets import (
    DecodingDataset,
    EncodingDataset,
    SubjectBatchSampler,
    decoding_datasets,
    encoding_datasets,
)
from neuro_igc.data._expdesign import ExpDesign
from neuro_igc.data._fetch import DEFAULT_BUCKET, ENDPOINT_ENV, FetchReport, fetch_nsd
from neuro_igc.data._images import linear_to_srgb, resize_images, rgb_to_luminance, srgb_to_linear, to_luminance
from neuro_igc.data._layout import EXTENT_DEG, LABEL_TABLES
from neuro_igc.data._io import write_mgh
from neuro_igc.data._manifest import MANIFEST_SPACES, FileSpec, Manifest, nsd_manifest
from neuro_igc.data._nsd import NSD
from neuro_igc.data._roi import ROILabels
from neuro_igc.data._nsd_ncsnr import noise_ceiling
from neuro_igc.data._spaces import SurfaceSpace, VolumeSpace, feature_space_of
from neuro_igc.data._splits import SPLITS
from neuro_igc.data._tables import NSD_TABLES, LookupTable, nsd_table, read_ctab, write_ctab
from neuro_igc.data.features import image_statistics, luminance_contrast, spectral_slope
from neuro_igc.data.synthetic import SyntheticTruth, load_truth, make_nsd_like

__all__ = [
    "NSD",
    "Betas",
    "ROILabels",
    "SurfaceSpace",
    "feature_space_of",
    "VolumeSpace",
    "LookupTable",
    "read_ctab",
    "write_ctab",
    "nsd_table",
    "NSD_TABLES",
    "write_mgh",
    "noise_ceiling",
    "SPLITS",
    "SharedSplit",
    "TrainValSplit",
    "ExpDesign",
    "zscore_per_session",
    "average_repeats",
    "split_shared",
    "train_val_split",
    "DecodingDataset",
    "EncodingDataset",
    "SubjectBatchSampler",
    "decoding_datasets",
    "encoding_datasets",
    "srgb_to_linear",
    "linear_to_srgb",
    "rgb_to_luminance",
    "to_luminance",
    "resize_images",
    "luminance_contrast",
    "spectral_slope",
    "image_statistics",
    "make_nsd_like",
    "load_truth",
    "SyntheticTruth",
    "nsd_manifest",
    "MANIFEST_SPACES",
    "Manifest",
    "FileSpec",
    "check_nsd",
    "CheckReport",
    "fetch_nsd",
    "DEFAULT_BUCKET",
    "ENDPOINT_ENV",
    "FetchReport",
    "EXTENT_DEG",
    "LABEL_TABLES",
]
