"""The experiment design and behaviour of the synthetic NSD folder (expdesign, stim info, responses).

Real shapes and 1-based values: ``masterordering`` (1, 30000) indexes each subject's 10k images
(every 10k image appears exactly 3 times over the 30000 trials), ``subjectim`` (8, 10000) holds
1-based 73k ids (the first 1000 columns are the shared images, identical for all subjects; the
other 9000 are distinct per subject, so the 73000 ids are used exactly once over 8 subjects),
``sharedix`` (1, 1000) the shared ids in ascending order.

Only the first ``trials`` trials of each of the first ``sessions`` sessions are "run" (have betas
and responses). Within those trials, ``n_shared`` shared images are shown 3 times each and every
other trial shows a non-shared image for the first time, so the validation set (shared images
averaged over repeats) and the training set (single trials of the other images) are disjoint.
"""

from __future__ import annotations

import numpy as np

from neuro_igc.data._layout import N_IMAGES_73K, N_SHARED, N_SUBJECTS, SESSIONS_PER_SUBJECT, TRIALS_PER_SESSION

__all__ = ["make_design", "run_trials", "stim_info_table", "responses_table", "RUN_SIZES"]

N_TRIALS_ALL = 30000
N_10K = 10000
#: trials per run in a 750-trial session (12 runs)
RUN_SIZES = np.array([63, 62] * 6)


def run_trials(sessions: int, trials: int) -> np.ndarray:
    """0-based experiment trials that are run: the first ``trials`` of each of ``sessions`` sessions."""
    return (np.arange(sessions)[:, None] * TRIALS_PER_SESSION + np.arange(trials)[None]).ravel()


def make_design(rng: np.random.Generator, sessions: int, trials: int, shared_fraction: float) -> dict:
    """Return the 1-based MATLAB arrays of ``nsd_expdesign.mat`` and the run-trial bookkeeping."""
    perm = rng.permutation(N_IMAGES_73K)
    sharedix = np.sort(perm[:N_SHARED]) + 1
    subjectim = np.empty((N_SUBJECTS, N_10K), dtype=np.int64)
    subjectim[:, :N_SHARED] = sharedix
    per = N_10K - N_SHARED
    for s in range(N_SUBJECTS):
        subjectim[s, N_SHARED:] = perm[N_SHARED + s * per: N_SHARED + (s + 1) * per] + 1

    run = run_trials(sessions, trials)
    n_run = run.size
    n_shared = int(min(N_SHARED, np.floor(shared_fraction * n_run / 3)))
    shared_used = rng.choice(N_SHARED, size=n_shared, replace=False)
    # presentations (10k index, repeat) in priority order for the run trials
    first = [np.repeat(shared_used, 3)]
    nonshared = np.arange(N_SHARED, N_10K)
    rng.shuffle(nonshared)
    need = n_run - 3 * n_shared
    pool = np.concatenate([nonshared, nonshared, nonshared])[:need]
    first.append(pool)
    chosen = np.concatenate(first)
    rng.shuffle(chosen)
    # the rest of the 30000 presentations fill the trials that are not run
    counts = np.full(N_10K, 3)
    np.subtract.at(counts, chosen, 1)
    rest = np.repeat(np.arange(N_10K), counts)
    rng.shuffle(rest)
    masterordering = np.empty(N_TRIALS_ALL, dtype=np.int64)
    is_run = np.zeros(N_TRIALS_ALL, dtype=bool)
    is_run[run] = True
    masterordering[run] = chosen
    masterordering[~is_run] = rest
    # stimpattern (40 sessions x 12 runs x 75 slots): 1 = stimulus trial, 0 = blank
    stimpattern = np.zeros((40, 12, 75))
    for r, size in enumerate(RUN_SIZES):
        slots = np.sort(rng.choice(75, size=size, replace=False))
        stimpattern[:, r, slots] = 1
    basiccnt = np.tile(np.array([[750.0], [0.0], [0.0]]), (1, 40))
    mat = {
        "masterordering": (masterordering + 1)[None].astype(np.float64),
        "subjectim": subjectim.astype(np.float64),
        "sharedix": sharedix[None].astype(np.float64),
        "stimpattern": stimpattern,
        "basiccnt": basiccnt,
    }
    return {"mat": mat, "run_trials": run, "n_shared_used": n_shared}


def stim_info_table(mat: dict):
    """``nsd_stim_info_merged.csv`` (73000 rows): nsdId 0-based, subjectN_repK 1-based trials (0: never)."""
    import pandas as pd

    mo = mat["masterordering"][0].astype(np.int64) - 1
    subjectim = mat["subjectim"].astype(np.int64) - 1
    shared = np.zeros(N_IMAGES_73K, dtype=np.int64)
    shared[mat["sharedix"][0].astype(np.int64) - 1] = 1
    order = np.argsort(mo, kind="stable")  # each 10k index appears 3 times
    reps = (order.reshape(N_10K, 3) + 1).astype(np.int64)  # 1-based trial numbers
    df = pd.DataFrame({
        "cocoId": np.arange(N_IMAGES_73K) + 100000,
        "cocoSplit": np.where(np.arange(N_IMAGES_73K) % 7 == 0, "val2017", "train2017"),
        "nsdId": np.arange(N_IMAGES_73K),
        "shared1000": shared.astype(bool),
    })
    for s in range(N_SUBJECTS):
        seen = np.zeros(N_IMAGES_73K, dtype=np.int64)
        seen[subjectim[s]] = 1
        df[f"subject{s + 1}"] = seen
    for s in range(N_SUBJECTS):
        last = SESSIONS_PER_SUBJECT[s] * TRIALS_PER_SESSION
        for k in range(3):
            col = np.zeros(N_IMAGES_73K, dtype=np.int64)
            r = reps[:, k]
            col[subjectim[s]] = np.where(r <= last, r, 0)
            df[f"subject{s + 1}_rep{k}"] = col
    return df


def responses_table(rng: np.random.Generator, subject: int, mat: dict, run: np.ndarray):
    """``responses.tsv`` rows of one subject for the run trials (73KID, 10KID 1-based)."""
    import pandas as pd

    mo = mat["masterordering"][0].astype(np.int64)  # 1-based
    ten_k = mo[run]
    seventy3k = mat["subjectim"][subject - 1].astype(np.int64)[ten_k - 1]
    session = run // TRIALS_PER_SESSION + 1
    within = run % TRIALS_PER_SESSION
    bounds = np.cumsum(RUN_SIZES)
    run_no = np.searchsorted(bounds, within, side="right") + 1
    trial_in_run = within - np.concatenate([[0], bounds])[run_no - 1] + 1
    # memory task: ISOLD = image shown earlier in the run trials
    is_old = np.zeros(run.size, dtype=np.int64)
    last_seen = {}
    first_seen = {}
    recent = np.full(run.size, np.nan)
    firstgap = np.full(run.size, np.nan)
    for i, img in enumerate(ten_k):
        if img in last_seen:
            is_old[i] = 1
            recent[i] = i - last_seen[img]
            firstgap[i] = i - first_seen[img]
        else:
            first_seen[img] = i
        last_seen[img] = i
    correct = (rng.random(run.size) < np.where(is_old == 1, 0.75, 0.85)).astype(np.int64)
    button = np.where(correct == 1, np.where(is_old == 1, 1, 2), np.where(is_old == 1, 2, 1))
    n = run.size
    return pd.DataFrame({
        "SUBJECT": np.full(n, subject), "SESSION": session, "RUN": run_no, "TRIAL": trial_in_run,
        "73KID": seventy3k, "10KID": ten_k,
        "TIME": 737000 + session + within / 1000.0,
        "ISOLD": is_old, "ISCORRECT": correct,
        "RT": np.round(rng.uniform(500, 1500, n), 1),
        "CHANGEMIND": np.zeros(n, dtype=np.int64),
        "MEMORYRECENT": recent, "MEMORYFIRST": firstgap,
        "ISOLDCURRENT": is_old, "ISCORRECTCURRENT": correct,
        "TOTAL1": np.ones(n, dtype=np.int64), "TOTAL2": np.zeros(n, dtype=np.int64),
        "BUTTON": button, "MISSINGDATA": np.zeros(n, dtype=np.int64),
    })
