;; Lopper's layer-norm op (layer-norm.ts) over x viewed as [rows, d], d = 4·vecs, byte offsets on
;; tfjs-backend-wasm's heap. Each row (d floats, in L1) is read a few times, where the portable
;; path runs ~8 ops forward and ~13 backward over the whole activation.
;;   lnFwd(x, γ, β, y, rows, vecs, ε):  y = (x − mean)·rstd·γ + β
;;   lnBwd(x, γ, dy, dx, dγ, dβ, rows, vecs, ε): per row Σg and Σg·x̂ (g = dy·γ, x̂ = (x − mean)·rstd)
;;     while adding dy·x̂ and dy into dγ and dβ (which start at zero), then
;;     dx = rstd·(g − Σg/d − x̂·Σg·x̂/d)
;; mean and rstd come from layer-norm-stats.inc.wat in both.
(module
  (import "env" "memory" (memory 1))

  (func (export "lnFwd")
    (param $x i32) (param $gamma i32) (param $beta i32) (param $y i32) (param $rows i32) (param $vecs i32) (param $eps f32)
    (local $r i32) (local $v i32) (local $off i32) (local $xr i32)
    (local $mean f32) (local $rstd f32) (local $inv_d f32)
    (local $acc v128) (local $vmean v128) (local $vrstd v128) (local $t v128)
    (local.set $inv_d (f32.div (f32.const 1) (f32.convert_i32_u (i32.mul (local.get $vecs) (i32.const 4)))))
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $xr (i32.add (local.get $x) (i32.mul (local.get $r) (i32.mul (local.get $vecs) (i32.const 16)))))
        ;; @include "layer-norm-stats.inc.wat"
        (local.set $v (i32.const 0))
        (block $row_done
          (loop $next_vector
            (br_if $row_done (i32.ge_u (local.get $v) (local.get $vecs)))
            (local.set $off (i32.mul (local.get $v) (i32.const 16)))
            (v128.store
              (i32.add (i32.add (local.get $y) (i32.sub (local.get $xr) (local.get $x))) (local.get $off)) ;; the same row of y
              (f32x4.add
                (f32x4.mul
                  (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $off))) (local.get $vmean)) (local.get $vrstd))
                  (v128.load (i32.add (local.get $gamma) (local.get $off))))
                (v128.load (i32.add (local.get $beta) (local.get $off)))))
            (local.set $v (i32.add (local.get $v) (i32.const 1)))
            (br $next_vector)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $next_row))))

  (func (export "lnBwd")
    (param $x i32) (param $gamma i32) (param $dy i32) (param $dx i32) (param $dgamma i32) (param $dbeta i32)
    (param $rows i32) (param $vecs i32) (param $eps f32)
    (local $r i32) (local $v i32) (local $off i32) (local $xr i32)
    (local $shift i32) ;; the row's byte offset, the same in every [rows, d] tensor
    (local $mean f32) (local $rstd f32) (local $inv_d f32)
    (local $acc v128) (local $vmean v128) (local $vrstd v128) (local $t v128)
    (local $sg v128) (local $sgx v128) (local $g v128) (local $xh v128) (local $dyv v128)
    (local.set $inv_d (f32.div (f32.const 1) (f32.convert_i32_u (i32.mul (local.get $vecs) (i32.const 4)))))
    (block $rows_done
      (loop $next_row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $shift (i32.mul (local.get $r) (i32.mul (local.get $vecs) (i32.const 16))))
        (local.set $xr (i32.add (local.get $x) (local.get $shift)))
        ;; @include "layer-norm-stats.inc.wat"
        ;; Σg, Σg·x̂ in four lanes; dγ += dy·x̂, dβ += dy
        (local.set $sg (v128.const i32x4 0 0 0 0))
        (local.set $sgx (v128.const i32x4 0 0 0 0))
        (local.set $v (i32.const 0))
        (block $sums_done
          (loop $sums_next
            (br_if $sums_done (i32.ge_u (local.get $v) (local.get $vecs)))
            (local.set $off (i32.mul (local.get $v) (i32.const 16)))
            (local.set $xh (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $off))) (local.get $vmean)) (local.get $vrstd)))
            (local.set $dyv (v128.load (i32.add (i32.add (local.get $dy) (local.get $shift)) (local.get $off))))
            (local.set $g (f32x4.mul (local.get $dyv) (v128.load (i32.add (local.get $gamma) (local.get $off)))))
            (local.set $sg (f32x4.add (local.get $sg) (local.get $g)))
            (local.set $sgx (f32x4.add (local.get $sgx) (f32x4.mul (local.get $g) (local.get $xh))))
            (v128.store
              (i32.add (local.get $dgamma) (local.get $off))
              (f32x4.add (v128.load (i32.add (local.get $dgamma) (local.get $off))) (f32x4.mul (local.get $dyv) (local.get $xh))))
            (v128.store
              (i32.add (local.get $dbeta) (local.get $off))
              (f32x4.add (v128.load (i32.add (local.get $dbeta) (local.get $off))) (local.get $dyv)))
            (local.set $v (i32.add (local.get $v) (i32.const 1)))
            (br $sums_next)))
        ;; $sg, $sgx become the splatted means Σg/d and Σg·x̂/d
        (local.set $sg (f32x4.splat (f32.mul
          (f32.add (f32.add (f32.add
            (f32x4.extract_lane 0 (local.get $sg)) (f32x4.extract_lane 1 (local.get $sg))) (f32x4.extract_lane 2 (local.get $sg))) (f32x4.extract_lane 3 (local.get $sg)))
          (local.get $inv_d))))
        (local.set $sgx (f32x4.splat (f32.mul
          (f32.add (f32.add (f32.add
            (f32x4.extract_lane 0 (local.get $sgx)) (f32x4.extract_lane 1 (local.get $sgx))) (f32x4.extract_lane 2 (local.get $sgx))) (f32x4.extract_lane 3 (local.get $sgx)))
          (local.get $inv_d))))
        ;; dx = ((dy·γ − Σg/d) − x̂·Σg·x̂/d)·rstd
        (local.set $v (i32.const 0))
        (block $dx_done
          (loop $dx_next
            (br_if $dx_done (i32.ge_u (local.get $v) (local.get $vecs)))
            (local.set $off (i32.mul (local.get $v) (i32.const 16)))
            (v128.store
              (i32.add (i32.add (local.get $dx) (local.get $shift)) (local.get $off))
              (f32x4.mul
                (f32x4.sub
                  (f32x4.sub
                    (f32x4.mul (v128.load (i32.add (i32.add (local.get $dy) (local.get $shift)) (local.get $off))) (v128.load (i32.add (local.get $gamma) (local.get $off))))
                    (local.get $sg))
                  (f32x4.mul
                    (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $off))) (local.get $vmean)) (local.get $vrstd))
                    (local.get $sgx)))
                (local.get $vrstd)))
            (local.set $v (i32.add (local.get $v) (i32.const 1)))
            (br $dx_next)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $next_row)))))
