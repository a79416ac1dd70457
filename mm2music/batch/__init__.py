"""Batch scoring (issue 6): a folder or a CSV/JSONL manifest of clips and texts, one output folder per job.

Jobs are resumable and failure-isolated. A job counts as complete only when its folder holds ``.complete.json``
with the job's fingerprint (inputs, resolved config, package version, checkpoint and soundfont) and the sha256
of every output file; a re-run verifies it and skips the job, or redoes the job. The record is written into the
job's staging folder before that folder takes its name, so a folder without one was not made by a batch and is
never replaced (the job fails instead). The single-clip pipeline stages its output and locks each job's folder,
and one batch at a time writes to an output folder, so a batch killed mid-way leaves no half-written folder and
two runs never overwrite each other. Seeds are given per row or derived from the job's inputs, never from their
position or timing.

``jobs`` discovers and names the jobs, ``records`` holds the report row type (:class:`JobRecord`), fingerprints
and completion records, ``worker`` runs one job, ``executors`` schedules them (local processes or Ray) and
``run`` ties a batch together.
"""

from mm2music.batch.jobs import Job, checked_name, clean_stem, derived_seed, discover, unique_names
from mm2music.batch.records import (BATCH_LOCK, COMPLETE, REPORT_CSV, REPORT_JSON, JobRecord, checkpoint_digest, fingerprint,
                                    made_by_batch, verify_complete, write_complete)
from mm2music.batch.run import Summary, run_batch
from mm2music.batch.worker import Settings, run_job

__all__ = ["BATCH_LOCK", "COMPLETE", "REPORT_CSV", "REPORT_JSON", "Job", "JobRecord", "Settings", "Summary", "checked_name",
           "checkpoint_digest", "clean_stem", "derived_seed", "discover", "fingerprint", "made_by_batch", "run_batch", "run_job",
           "unique_names", "verify_complete", "write_complete"]
