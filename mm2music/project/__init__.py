"""The project folder: its format (:mod:`.format`, the only reader and writer of project.json, cues/ and the
stored mix) and its store (:mod:`.store`, versions published one writer at a time, crash-safe, with history)."""

from mm2music.project.format import (FORMAT, MIX_FILE, PROJECT_FILE, CueEntry, Project, analysis_from_json, checkpoint_hash,
                                     cue_file, cue_from_json, cue_to_json, is_project, load_mix, load_project, music_from_json,
                                     music_to_json, new_project, read_index, ProjectIndex, save_mix, save_mix_blocks, with_pinned)
from mm2music.project.store import (HISTORY, ProjectError, history_versions, link_tree, locked, next_version, replace_file,
                                    tidy, undo, version_sizes)

__all__ = ["FORMAT", "HISTORY", "MIX_FILE", "PROJECT_FILE", "CueEntry", "Project", "ProjectError", "analysis_from_json",
           "checkpoint_hash", "cue_file", "cue_from_json", "cue_to_json", "history_versions", "is_project", "link_tree",
           "load_mix", "load_project", "locked", "music_from_json", "music_to_json", "new_project", "next_version", "read_index", "ProjectIndex",
           "replace_file", "save_mix", "save_mix_blocks", "tidy", "undo", "version_sizes", "with_pinned"]
