// The geometry of the visual area editor (area-editor.js), in image pixels: the server's grid
// (the same as line_channel/richmenu_design/layouts.py) and its checks (richmenus.blocks.
// layout_problems and layouts.check_layout, with the same wording), and how a drag or an arrow key
// moves an area. Pure functions, no DOM access.
//
// Plain script, loaded before area-editor.js (both deferred, so in order); it shares its functions
// through window.KairanAreaEditor.
(() => {
  "use strict";

  const WIDTH = 2500;
  const HEIGHTS = { large: 1686, compact: 843 };
  const HEADER = { large: 200, compact: 150 }; // layouts.TAB_HEADER_HEIGHT
  const MAX_AREAS = 20; // LINE: areas of one rich menu, tabs included
  const GRIDS = { "3x3": [3, 3], "2x3": [2, 3], "4x3": [3, 4], tabs_3x2: [2, 3] }; // rows, cols
  const SNAP = 10;

  // Python's round(): halves go to the even neighbour (round(346.5) == 346).
  function pyRound(value) {
    const floor = Math.floor(value);
    const rest = value - floor;
    if (rest > 0.5) return floor + 1;
    if (rest < 0.5) return floor;
    return floor % 2 === 0 ? floor : floor + 1;
  }

  // layouts._split: ``parts`` consecutive [start, length] spans covering ``length`` exactly.
  function split(start, length, parts) {
    const edges = [];
    for (let i = 0; i <= parts; i += 1) edges.push(start + pyRound((length * i) / parts));
    return edges.slice(0, parts).map((edge, i) => [edge, edges[i + 1] - edge]);
  }

  function tabRects(size, count) {
    return split(0, WIDTH, count).map(([x, w]) => ({ x, y: 0, width: w, height: HEADER[size] }));
  }

  // blocks.tab_layout + layouts.grid: the tiles of a standard layout, or null for "free".
  function layoutTiles(name, size, tabCount) {
    let layout = name;
    if (!(layout in GRIDS)) return null;
    if (layout === "tabs_3x2" && tabCount < 2) layout = "2x3"; // one tab: no strip to leave room for
    const [rows, cols] = GRIDS[layout];
    const height = HEIGHTS[size];
    const top = tabCount > 1 ? HEADER[size] : 0;
    const tiles = [];
    for (const [y, h] of split(top, height - top, rows)) {
      for (const [x, w] of split(0, WIDTH, cols)) tiles.push({ x, y, width: w, height: h });
    }
    return tiles;
  }

  function overlaps(a, b) {
    return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  }

  const snap = (value) => Math.round(value / SNAP) * SNAP;
  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

  // ``bounds`` moved by (dx, dy), or with ``resize`` its size changed by them, kept inside the image
  // (an area already outside may stay where it is, and one smaller than SNAP keeps its size).
  function stepBounds(bounds, imageHeight, dx, dy, resize) {
    const { x, y, width, height } = bounds;
    const next = { x, y, width, height };
    if (resize) {
      next.width = clamp(width + dx, Math.min(width, SNAP), Math.max(width, WIDTH - x));
      next.height = clamp(height + dy, Math.min(height, SNAP), Math.max(height, imageHeight - y));
    } else {
      next.x = clamp(x + dx, Math.min(x, 0), Math.max(x, WIDTH - width));
      next.y = clamp(y + dy, Math.min(y, 0), Math.max(y, imageHeight - height));
    }
    return next;
  }

  // blocks.layout_problems and layouts.check_layout, with the same wording: the problems of a tab
  // whose areas have ``bounds`` (null where a field is not a number), and the indexes of the
  // areas at fault. ``tiles`` are its standard layout's (or null), ``strip`` its tab headers.
  function check(bounds, imageHeight, tiles, strip) {
    const problems = [];
    const bad = new Set();
    const total = strip.length + bounds.length;
    if (total > MAX_AREAS) {
      problems.push(
        `タブの見出し（${strip.length}）とエリアを合わせて${MAX_AREAS}個までです（現在 ${total} 個）`,
      );
    }
    if (tiles) {
      if (bounds.length > tiles.length) {
        problems.push(
          `このレイアウトのエリアは${tiles.length}個です（現在 ${bounds.length} 個）。` +
            "多い分を消すか、レイアウトを「自由」にしてください",
        );
        for (let i = tiles.length; i < bounds.length; i += 1) bad.add(i);
      }
      return { problems, bad };
    }
    bounds.forEach((rect, i) => {
      const number = i + 1;
      if (!rect) {
        problems.push(`エリア ${number} の位置と大きさを数字で入れてください`);
        bad.add(i);
        return;
      }
      if (rect.width <= 0 || rect.height <= 0) {
        problems.push(`エリア ${number} の幅か高さが 0 以下です`);
        bad.add(i);
      }
      if (rect.x < 0 || rect.y < 0 || rect.x + rect.width > WIDTH || rect.y + rect.height > imageHeight) {
        problems.push(`エリア ${number} が画像（${WIDTH}×${imageHeight}）からはみ出しています`);
        bad.add(i);
      }
      bounds.forEach((other, j) => {
        if (j <= i || !other || !overlaps(rect, other)) return;
        problems.push(`エリア ${number} と ${j + 1} が重なっています`);
        bad.add(i);
        bad.add(j);
      });
    });
    bounds.forEach((rect, i) => {
      if (rect && strip.some((tabRect) => overlaps(rect, tabRect))) {
        problems.push(`エリア ${i + 1} がタブの見出しと重なっています`);
        bad.add(i);
      }
    });
    return { problems, bad };
  }

  window.KairanAreaEditor = Object.assign(window.KairanAreaEditor || {}, {
    WIDTH,
    HEIGHTS,
    SNAP,
    tabRects,
    layoutTiles,
    snap,
    stepBounds,
    check,
  });
})();
