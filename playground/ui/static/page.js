() => {
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      const b = document.querySelector('#generate-btn');
      if (b) { e.preventDefault(); b.click(); }
    }
  });
  // A slider's number box takes any typed number; Enter or leaving it puts it back in the
  // slider's range (the model's), so what is priced is what can be sent.
  document.addEventListener('change', (e) => {
    const box = e.target;
    if (!box.matches || !box.matches('input[type=number][data-testid=number-input]')) return;
    const [low, high, value] = [+box.min, +box.max, +box.value];
    if (box.value === '' || box.min === '' || box.max === '' || Number.isNaN(value)) return;
    const kept = Math.min(high, Math.max(low, value));
    if (kept === value) return;
    box.value = kept;
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }, true);
  // On a phone the result is below the form: a run started shows its status at once.
  document.addEventListener('click', (e) => {
    if (!e.target.closest('#generate-btn, #batch-btn') || window.innerWidth > 720) return;
    const line = document.querySelector('#status');
    if (line) setTimeout(() => line.scrollIntoView({behavior: 'smooth', block: 'start'}), 50);
  });
  const videosOf = (block) => [...block.querySelectorAll('video')];
  document.addEventListener('click', (e) => {
    const block = e.target.closest('.sync-block');
    if (!block) return;
    if (e.target.closest('.compare-play')) {
      videosOf(block).forEach((v) => { v.currentTime = 0; v.play(); });
    } else if (e.target.closest('.compare-pause')) {
      videosOf(block).forEach((v) => v.pause());
    }
  });
  // The status line counts seconds itself between the server's updates (same words as
  // generation.Progress.describe): elapsed from when this line arrived.
  setInterval(() => {
    document.querySelectorAll('.status[data-elapsed]').forEach((el) => {
      el.dataset.seen = el.dataset.seen || Date.now();
      const elapsed = +el.dataset.elapsed + (Date.now() - el.dataset.seen) / 1000;
      let text = `${el.dataset.stage} · ${Math.floor(elapsed + 0.5)} s`;
      if (el.dataset.eta) {
        const left = +el.dataset.eta - elapsed;
        text += left >= 1 ? ` · about ${Math.floor(left + 0.5)} s left` : ' · any moment now';
      }
      if (el.textContent !== text) el.textContent = text;
    });
  }, 500);
  // Compare's picked thumbnails (their caption starts with ✓) wear a ring, seen at a glance.
  setInterval(() => {
    document.querySelectorAll('#compare-thumbs .thumbnail-item').forEach((item) => {
      item.classList.toggle('picked', item.textContent.trim().startsWith('✓'));
    });
  }, 300);
  // Keep clips of equal length on the first one's clock, so motion lines up frame by frame.
  setInterval(() => {
    document.querySelectorAll('.sync-block').forEach((block) => {
      const [lead, ...rest] = videosOf(block);
      if (!lead || lead.paused) return;
      rest.forEach((v) => {
        if (Math.abs(v.duration - lead.duration) < 0.05
            && Math.abs(v.currentTime - lead.currentTime) > 0.08) {
          v.currentTime = lead.currentTime;
        }
      });
    });
  }, 500);
}
