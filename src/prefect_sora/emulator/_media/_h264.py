"""A tiny H.264 Baseline encoder: I_PCM macroblocks and P_Skip, nothing else.

No ffmpeg is available and the emulator may only use the standard library, yet
clients must receive a clip any player opens. Uncompressed I_PCM macroblocks
need no transform, quantiser or entropy coder for their samples, and P_Skip
copies a macroblock unchanged (every motion vector in these streams is zero,
so the skip prediction is zero too), which together are enough for a moving
test card. One IDR picture, then P pictures repainting only what changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._scene import MB, RGB, Scene, to_ycbcr

_PROFILE_BASELINE = 66
_LOG2_MAX_FRAME_NUM = 16
_I_PCM_IN_I_SLICE = 25
_I_PCM_IN_P_SLICE = 5 + 25  # P slices number their intra types after the five inter ones
_SLICE_P, _SLICE_I = 5, 7  # +5: every slice of the picture has this type
_NAL_SLICE, _NAL_IDR, _NAL_SPS, _NAL_PPS = 1, 5, 7, 8

# (level_idc, MaxFS in macroblocks, MaxMBPS) from Table A-1.
_LEVELS = (
    (30, 1620, 40500),
    (31, 3600, 108000),
    (32, 5120, 216000),
    (40, 8192, 245760),
    (42, 8704, 522240),
    (50, 22080, 589824),
    (51, 36864, 983040),
    (52, 36864, 2073600),
)

# Three zero-ish bytes a decoder would read as a start code; 0x03 breaks them up.
_EMULATION = re.compile(b"\x00\x00(?=[\x00-\x03])")


class BitWriter:
    """MSB-first bit writer for RBSP syntax, with a fast path for byte-aligned runs."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._acc = 0
        self._bits = 0

    def u(self, bits: int, value: int) -> None:
        self._acc = (self._acc << bits) | (value & ((1 << bits) - 1))
        self._bits += bits
        while self._bits >= 8:
            self._bits -= 8
            self._out.append((self._acc >> self._bits) & 0xFF)
        self._acc &= (1 << self._bits) - 1

    def ue(self, value: int) -> None:
        code = value + 1
        # Exp-Golomb: as many leading zeros as code has bits after its top one.
        self.u(2 * code.bit_length() - 1, code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align(self) -> None:
        if self._bits:
            self.u(8 - self._bits, 0)

    def raw(self, data: bytes) -> None:
        if self._bits:
            raise ValueError("raw bytes need a byte-aligned writer")
        self._out += data

    def trailing(self) -> bytes:
        """Append rbsp_trailing_bits and return the finished RBSP."""
        self.u(1, 1)
        self.align()
        return bytes(self._out)


def nal_unit(ref_idc: int, kind: int, rbsp: bytes) -> bytes:
    """Header byte plus the RBSP with emulation-prevention bytes inserted."""
    payload = _EMULATION.sub(b"\x00\x00\x03", rbsp)
    if payload.endswith(b"\x00"):
        payload += b"\x03"
    return bytes([(ref_idc << 5) | kind]) + payload


def pick_level(mbs: int, fps: int) -> int:
    for level, max_fs, max_mbps in _LEVELS:
        if mbs <= max_fs and mbs * fps <= max_mbps:
            return level
    raise ValueError(f"{mbs} macroblocks at {fps} fps exceeds every H.264 level")


def sequence_parameter_set(scene: Scene) -> bytes:
    w = BitWriter()
    w.u(8, _PROFILE_BASELINE)
    w.u(8, 0b1100_0000)  # constraint_set0/1: Constrained Baseline, playable everywhere
    w.u(8, pick_level(scene.mb_cols * scene.mb_rows, scene.fps))
    w.ue(0)  # seq_parameter_set_id
    w.ue(_LOG2_MAX_FRAME_NUM - 4)
    w.ue(2)  # pic_order_cnt_type 2: output order is decode order, no POC to send
    w.ue(1)  # max_num_ref_frames
    w.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
    w.ue(scene.mb_cols - 1)
    w.ue(scene.mb_rows - 1)
    w.u(1, 1)  # frame_mbs_only_flag
    w.u(1, 1)  # direct_8x8_inference_flag
    # Crop units are two samples in 4:2:0, hence the halving (1088 -> 1080 is 4).
    crop_right = (scene.mb_cols * MB - scene.width) // 2
    crop_bottom = (scene.mb_rows * MB - scene.height) // 2
    w.u(1, 1 if crop_right or crop_bottom else 0)
    if crop_right or crop_bottom:
        for offset in (0, crop_right, 0, crop_bottom):
            w.ue(offset)
    w.u(1, 1)  # vui_parameters_present_flag
    _vui(w, scene.fps)
    return nal_unit(3, _NAL_SPS, w.trailing())


def _vui(w: BitWriter, fps: int) -> None:
    w.u(1, 1)  # aspect_ratio_info_present_flag
    w.u(8, 1)  # square pixels
    w.u(1, 0)  # overscan_info_present_flag
    w.u(1, 1)  # video_signal_type_present_flag
    w.u(3, 5)  # video_format: unspecified
    w.u(1, 0)  # limited range, as the samples are
    w.u(1, 1)  # colour_description_present_flag
    for bt709 in (1, 1, 1):  # primaries, transfer, matrix: what _scene.to_ycbcr uses
        w.u(8, bt709)
    w.u(1, 0)  # chroma_loc_info_present_flag
    w.u(1, 1)  # timing_info_present_flag
    w.u(32, 1)  # num_units_in_tick
    w.u(32, 2 * fps)  # time_scale: two ticks per frame
    w.u(1, 0)  # fixed_frame_rate_flag: the last frame may be shorter
    w.u(1, 0)  # nal_hrd_parameters_present_flag
    w.u(1, 0)  # vcl_hrd_parameters_present_flag
    w.u(1, 0)  # pic_struct_present_flag
    w.u(1, 1)  # bitstream_restriction_flag: tells decoders not to buffer for reordering
    w.u(1, 1)  # motion_vectors_over_pic_boundaries_flag
    w.ue(0)  # max_bytes_per_pic_denom
    w.ue(0)  # max_bits_per_mb_denom
    w.ue(11)  # log2_max_mv_length_horizontal
    w.ue(11)  # log2_max_mv_length_vertical
    w.ue(0)  # max_num_reorder_frames
    w.ue(1)  # max_dec_frame_buffering


def picture_parameter_set() -> bytes:
    w = BitWriter()
    w.ue(0)  # pic_parameter_set_id
    w.ue(0)  # seq_parameter_set_id
    w.u(1, 0)  # entropy_coding_mode_flag: CAVLC
    w.u(1, 0)  # bottom_field_pic_order_in_frame_present_flag
    w.ue(0)  # num_slice_groups_minus1
    w.ue(0)  # num_ref_idx_l0_default_active_minus1
    w.ue(0)  # num_ref_idx_l1_default_active_minus1
    w.u(1, 0)  # weighted_pred_flag
    w.u(2, 0)  # weighted_bipred_idc
    w.se(0)  # pic_init_qp_minus26
    w.se(0)  # pic_init_qs_minus26
    w.se(0)  # chroma_qp_index_offset
    w.u(1, 1)  # deblocking_filter_control_present_flag, so slices can switch it off
    w.u(1, 0)  # constrained_intra_pred_flag
    w.u(1, 0)  # redundant_pic_cnt_present_flag
    return nal_unit(3, _NAL_PPS, w.trailing())


def _slice_header(w: BitWriter, *, idr: bool, frame_num: int) -> None:
    w.ue(0)  # first_mb_in_slice: one slice per picture
    w.ue(_SLICE_I if idr else _SLICE_P)
    w.ue(0)  # pic_parameter_set_id
    w.u(_LOG2_MAX_FRAME_NUM, frame_num % (1 << _LOG2_MAX_FRAME_NUM))
    if idr:
        w.ue(0)  # idr_pic_id
    else:
        w.u(1, 0)  # num_ref_idx_active_override_flag
        w.u(1, 0)  # ref_pic_list_modification_flag_l0
    # dec_ref_pic_marking: every picture is a reference (nal_ref_idc > 0).
    if idr:
        w.u(1, 0)  # no_output_of_prior_pics_flag
        w.u(1, 0)  # long_term_reference_flag
    else:
        w.u(1, 0)  # adaptive_ref_pic_marking_mode_flag: sliding window
    w.se(0)  # slice_qp_delta
    # Deblocking would smear the hard macroblock edges a P_Skip copy relies on.
    w.ue(1)  # disable_deblocking_filter_idc


class _PcmCache:
    """The 384 sample bytes (256 Y, 64 Cb, 64 Cr) of a flat macroblock, per colour."""

    def __init__(self) -> None:
        self._cache: dict[RGB, bytes] = {}

    def __call__(self, rgb: RGB) -> bytes:
        pcm = self._cache.get(rgb)
        if pcm is None:
            y, cb, cr = to_ycbcr(rgb)
            pcm = bytes((y,)) * (MB * MB) + bytes((cb,)) * 64 + bytes((cr,)) * 64
            self._cache[rgb] = pcm
        return pcm


def _pcm_macroblock(w: BitWriter, mb_type: int, pcm: bytes) -> None:
    w.ue(mb_type)
    w.align()  # pcm_alignment_zero_bit
    w.raw(pcm)


def idr_picture(scene: Scene, pcm: _PcmCache) -> bytes:
    w = BitWriter()
    _slice_header(w, idr=True, frame_num=0)
    paint = scene.painter(0)
    for y in range(scene.mb_rows):
        for x in range(scene.mb_cols):
            _pcm_macroblock(w, _I_PCM_IN_I_SLICE, pcm(paint.colour(x, y)))
    return nal_unit(3, _NAL_IDR, w.trailing())


def p_picture(scene: Scene, frame: int, pcm: _PcmCache) -> bytes:
    w = BitWriter()
    _slice_header(w, idr=False, frame_num=frame)
    next_addr = 0
    for x, y, rgb in scene.changed(frame):
        addr = y * scene.mb_cols + x
        w.ue(addr - next_addr)  # mb_skip_run before this coded macroblock
        _pcm_macroblock(w, _I_PCM_IN_P_SLICE, pcm(rgb))
        next_addr = addr + 1
    total = scene.mb_cols * scene.mb_rows
    if next_addr < total:
        w.ue(total - next_addr)  # the rest of the picture is skipped
    return nal_unit(1, _NAL_SLICE, w.trailing())


@dataclass(frozen=True)
class H264Stream:
    """Parameter sets (for avcC) and one NAL unit per frame, without start codes."""

    sps: bytes
    pps: bytes
    frames: list[bytes]


def encode(scene: Scene) -> H264Stream:
    """Encode every frame of the scene: an IDR picture, then P pictures."""
    pcm = _PcmCache()
    frames = [idr_picture(scene, pcm)]
    frames.extend(p_picture(scene, n, pcm) for n in range(1, scene.frames))
    return H264Stream(sequence_parameter_set(scene), picture_parameter_set(), frames)
