;; Mean and rstd of the row of $vecs vectors at $xr, into $mean, $rstd (f32) and their splats
;; $vmean, $vrstd: mean first, then the variance of x − mean (two passes, as tf.moments), each
;; summed in four lanes and then across them, ((l0 + l1) + l2) + l3 (layerNormRows in
;; layer-norm.ts takes the same steps). Included into both functions of layer-norm.wat, which
;; declare the locals; included rather than called so that the row loop stays one function.
(local.set $acc (v128.const i32x4 0 0 0 0))
(local.set $v (i32.const 0))
(block $sum_done
  (loop $sum_next
    (br_if $sum_done (i32.ge_u (local.get $v) (local.get $vecs)))
    (local.set $off (i32.mul (local.get $v) (i32.const 16)))
    (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $xr) (local.get $off)))))
    (local.set $v (i32.add (local.get $v) (i32.const 1)))
    (br $sum_next)))
(local.set $mean (f32.mul
  (f32.add (f32.add (f32.add
    (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc))) (f32x4.extract_lane 2 (local.get $acc))) (f32x4.extract_lane 3 (local.get $acc)))
  (local.get $inv_d)))
(local.set $vmean (f32x4.splat (local.get $mean)))
(local.set $acc (v128.const i32x4 0 0 0 0))
(local.set $v (i32.const 0))
(block $var_done
  (loop $var_next
    (br_if $var_done (i32.ge_u (local.get $v) (local.get $vecs)))
    (local.set $off (i32.mul (local.get $v) (i32.const 16)))
    (local.set $t (f32x4.sub (v128.load (i32.add (local.get $xr) (local.get $off))) (local.get $vmean)))
    (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $t) (local.get $t))))
    (local.set $v (i32.add (local.get $v) (i32.const 1)))
    (br $var_next)))
;; rstd = 1/√(var + ε)
(local.set $rstd (f32.div
  (f32.const 1)
  (f32.sqrt (f32.add
    (f32.mul
      (f32.add (f32.add (f32.add
        (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc))) (f32x4.extract_lane 2 (local.get $acc))) (f32x4.extract_lane 3 (local.get $acc)))
      (local.get $inv_d))
    (local.get $eps)))))
(local.set $vrstd (f32x4.splat (local.get $rstd)))
