#!/usr/bin/env bash
# Makes every figure and table in docs/ with genzoo itself, on the bundled data, from scratch.
# About 70 minutes on two CPU cores; runs go to runs/docs/, figures to docs/figures/.
#   bash docs/figures.sh            # everything
#   bash docs/figures.sh vae gan    # some: autoencoders vae gan diffusion joined diffae apps demo
#                                     colour theory
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
R=runs/docs
F=docs/figures
T=docs/figures/tables
mkdir -p "$R" "$F" "$T"
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(autoencoders vae gan diffusion joined diffae apps demo colour theory)
want() { [[ " ${sections[*]} " == *" $1 "* ]]; }
say() { printf '\n== %s\n' "$*"; }
# a command's printed output, kept for the guides (progress bars go to stderr)
keep() { local name=$1; shift; "$@" | tee "$T/$name.txt"; }

if want autoencoders; then
  say "autoencoders"
  genzoo train ae --data mnist5k --steps 3000 --out "$R/ae" --set train.final_eval=false
  genzoo reconstruct "$R/ae" --n 16 --out "$F/ae-reconstructions.png"
  genzoo train linear-ae --data mnist5k --steps 3000 --set model.latent_dim=16 \
    --out "$R/linear-ae" --set train.final_eval=false
  keep linear-ae-components genzoo components "$R/linear-ae" --out "$F/linear-ae-components.png"
  genzoo train conv-denoising-ae --data mnist5k --steps 2000 --set model.noise_std=0.5 \
    --out "$R/conv-dae" --set train.final_eval=false
  genzoo train sparse-ae --data mnist5k --steps 3000 --set model.latent_dim=256 \
    --set model.sparsity=l1 --set model.code_activation=relu --set model.l1_weight=1e-3 \
    --out "$R/sparse-ae" --set train.final_eval=false
  genzoo reconstruct "$R/sparse-ae" --n 16 --out "$F/sparse-ae-reconstructions.png"
  genzoo encode "$R/sparse-ae" --out "$R/sparse-codes.npz"
  keep sparse-ae-codes python -c "import numpy as np; z = np.load('$R/sparse-codes.npz')['z'];
print(f'{(z > 0).sum(1).mean():.1f} of {z.shape[1]} code units non-zero per test digit,',
      f'{(z > 0).any(0).sum()} units non-zero for any of them')"
fi

if want vae; then
  say "variational autoencoders"
  genzoo train vae --data mnist5k --steps 5000 --out "$R/vae" --set train.final_eval=false
  genzoo sample "$R/vae" --n 64 --out "$F/vae-samples.png"
  genzoo interpolate "$R/vae" --a class:1 --b class:7 --out "$F/vae-interpolation.png"
  genzoo traverse "$R/vae" --out "$F/vae-traversal.png"
  keep vae-nll genzoo eval "$R/vae" --metrics nll --nll-samples 500
  genzoo train cvae --data mnist5k --steps 5000 --out "$R/cvae" --set train.final_eval=false
  genzoo arithmetic "$R/cvae" --n 8 --out "$F/cvae-styles.png"
fi

if want gan; then
  say "GANs"
  genzoo train dcgan --data mnist5k --steps 1500 --out "$R/dcgan" --set train.final_eval=false
  genzoo sample "$R/dcgan" --n 64 --out "$F/dcgan-samples.png"
  genzoo interpolate "$R/dcgan" --seed 1 --out "$F/dcgan-interpolation.png"
  keep dcgan-fid genzoo eval "$R/dcgan" --metrics fid,precision_recall,classes --n 1000
  genzoo train pix2pix --data mnist5k-masked --steps 400 --set train.batch_size=32 \
    --out "$R/pix2pix" --set train.final_eval=false
  genzoo translate "$R/pix2pix" --n 8 --out "$F/pix2pix-masked.png"
fi

if want diffusion; then
  say "diffusion"
  # sized for minutes on a CPU: v-prediction learns digits in fewer steps than eps does
  genzoo train ddpm --data mnist5k --steps 2000 --set model.prediction=v \
    --set train.batch_size=32 --set train.lr=2e-3 --set train.ema_decay=0.995 \
    --out "$R/ddpm" --set train.final_eval=false
  genzoo sample "$R/ddpm" --trajectory --n 6 --out "$F/ddpm-trajectory.png"
  genzoo sample "$R/ddpm" --sampler dpm-solver --steps 20 --n 64 --out "$F/ddpm-samples.png"
  keep ddpm-fid genzoo eval "$R/ddpm" --metrics fid,precision_recall,classes --n 1000
fi

if want joined; then
  say "joined families"
  # an autoencoder's samples from one Gaussian and from the mixture fitted to its codes
  genzoo train ae --data mnist5k --budget 2m --out "$R/ae-mixture" --set train.final_eval=false
  genzoo sample "$R/ae-mixture" --prior gaussian --n 32 --out "$F/ae-one-gaussian.png"
  genzoo sample "$R/ae-mixture" --n 32 --out "$F/ae-mixture.png"
  genzoo train rae --data mnist5k --budget 2m --out "$R/rae" --set train.final_eval=false
  genzoo sample "$R/rae" --n 32 --out "$F/rae-samples.png"
  genzoo train wae --data mnist5k --budget 2m --out "$R/wae" --set train.final_eval=false
  genzoo sample "$R/wae" --n 32 --out "$F/wae-samples.png"
  keep wae-fid genzoo eval "$R/wae" --metrics fid --n 1000
  # latent diffusion on the codes of a VAE
  genzoo train vae --data mnist5k --budget 2m --out "$R/vae-ldm" --set train.final_eval=false
  genzoo train ldm --data mnist5k --budget 2m --set model.autoencoder="$R/vae-ldm" \
    --out "$R/ldm" --set train.final_eval=false
  genzoo sample "$R/ldm" --n 32 --out "$F/ldm-samples.png"
  keep ldm-fid genzoo eval "$R/ldm" --metrics fid --n 1000
fi

if want diffae; then
  say "diffusion autoencoder"
  genzoo train diffae --data mnist5k --budget 5m --out "$R/diffae" --set train.final_eval=false
  genzoo reconstruct "$R/diffae" --n 10 --out "$F/diffae-reconstructions.png"
  python -c "import genzoo, torch; from genzoo.viz.grid import picture
m = genzoo.load('$R/diffae'); d = genzoo.load_dataset('mnist5k'); x = m.to_model(d.x_test[:10])
g = torch.Generator().manual_seed(1); z = m.encode(x)
rows = [('data', x)] + [(f'x_T draw {i + 1}', m.decode(z, torch.randn(x.shape, generator=g)))
                        for i in range(3)]
picture(m, rows, 10).save('$F/diffae-z-sem-alone.png')"
  genzoo interpolate "$R/diffae" --a 3 --b 250 --mode linear --out "$F/diffae-interpolation.png"
  keep diffae-ink genzoo manipulate "$R/diffae" --attribute ink --n 4 --out "$F/diffae-ink.png"
  keep diffae-seven genzoo manipulate "$R/diffae" --attribute class:7 --n 4 \
    --out "$F/diffae-seven.png"
  genzoo sample "$R/diffae" --n 32 --out "$F/diffae-samples.png"
fi

if want apps; then
  say "applications"
  genzoo embed "$R/ae" --out "$F/ae-embedding.png"
  python -c "import genzoo, numpy as np; d = genzoo.load_dataset('mnist5k');
np.savez('$R/test16.npz', x=d.x_test[::63][:16])"  # 16 test digits of every class, as a file
  genzoo denoise "$R/conv-dae" --input "$R/test16.npz" --add-noise 0.5 --out "$F/denoise.png"
  genzoo train conv-ae --data mnist5k --set data.classes=3 --steps 2000 --out "$R/three" \
    --set train.final_eval=false
  keep anomaly genzoo score "$R/three"
  keep pretrain genzoo pretrain "$R/ae" --labels-per-class 10
fi
if want demo; then
  say "the demo: four families on mnist5k, then grid25"
  SECONDS=0; genzoo demo --out "$R/demo" | grep -v "^step " | tee "$T/demo.txt"
  echo "$SECONDS s" > "$T/demo-seconds.txt"
  cp "$R/demo/mnist5k/samples.png" "$F/compare-mnist5k.png"
  cp "$R/demo/mnist5k/quality.png" "$F/compare-mnist5k-quality.png"
  cp "$R/demo/grid25/samples.png" "$F/compare-grid25.png"
fi
if want colour; then
  say "your own data: each family, then each image-to-image task, on mnist5k-color (~25 min)"
  python bench/colour.py  # also writes bench/results/colour.json
fi

if want theory; then
  say "theory"
  for name in $(genzoo theory list | awk '/^  / {print $1}'); do
    genzoo theory "$name" --out "$F/theory-$name.png"
  done
fi
say "done: figures in $F, printed tables in $T"
