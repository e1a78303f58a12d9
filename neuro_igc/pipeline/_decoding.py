"""Task "decoding" (the paper's Section 5.1): betas -> image statistics; IGC maps on the cortex.

Participant level, steps (each skipped when unchanged):

``train``            one model for all selected subjects (per-subject first layer), or one ridge
                     per subject; checkpoints in ``models/<label>/``
``sub-XX/igc``       IGC of each target on the subject's validation data -> ``_igc.npz`` and the
                     vertex table ``_vertices.tsv``
``sub-XX/surface``   one map per target: ``.func.gii`` + ``.mgz`` + freeview command + figure
``sub-XX/roi``       ROI sums per atlas (``_roisums.tsv`` + ``.json``) + bar plot

Group level (:mod:`neuro_igc.pipeline._group`): ROI sums across subjects (mean +/- SD) and the
subjects' mean maps.
"""

from __future__ import annotations

from neuro_igc.pipeline import _outputs as O
from neuro_igc.pipeline import _sections as S

__all__ = ["participant", "group"]


def participant(ctx) -> None:
    cfg = ctx.config
    names = list(cfg.data.targets)
    data = O.LazyData(ctx)
    train = O.train_step(ctx, data)
    from neuro_igc.pipeline._modelfigs import model_step

    model = model_step(ctx, data, train, names)
    igc_recs, surf_recs, roi_recs, roi_tables = {}, {}, {}, {}
    for s in ctx.subjects:
        sub = f"{s:02d}"
        igc_rec, res = O.igc_step(ctx, data, train, s)
        maps = res.attributions.reshape(res.attributions.shape[0], -1)  # (n_targets, n_vertices)
        vert = O.read_vertices(ctx, sub)
        igc_recs[sub] = igc_rec
        surf_recs[sub] = O.surface_step(ctx, sub, igc_rec, maps, names, vert, kind="IGC")
        roi_recs[sub] = O.roi_step(ctx, sub, igc_rec, maps, names, vert)
        if roi_recs[sub] is not None:
            roi_tables[sub] = O.read_roi_tables(ctx, sub)
    S.model_section(ctx, train, names, model=model)
    S.attribution_section(ctx, igc_recs, names)
    S.maps_section(ctx, "IGC maps", "IGC attributions of each decoded statistic on the inflated fsaverage "
                   "surface (red: positive, blue: negative), with the outlines of the ROIs summed below.", surf_recs)
    S.roi_section(ctx, roi_recs, "Sums of the IGC maps over each ROI (IGC is additive: the sums over a "
                  "partition add up to the correlation).")
    if roi_tables:
        S.decoding_recovery(ctx, roi_tables, names)


def group(ctx) -> None:
    from neuro_igc.pipeline._group import group_maps, group_roi, participant_settings, participants_section

    participant_settings(ctx)
    participants_section(ctx, list(ctx.config.data.targets))

    names = list(ctx.config.data.targets)
    table = group_roi(ctx, names, kind="IGC")
    group_maps(ctx, names, kind="IGC")
    if table is not None:
        S.decoding_recovery(ctx, {"group": table}, names)
