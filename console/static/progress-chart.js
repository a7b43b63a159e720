// 进度 page: draws the per-town chart from the page's own JSON (the same figures as the table below it).
(function () {
  'use strict';
  var data = document.getElementById('progress-data');
  var el = document.getElementById('progress-chart');
  if (!data || !el || typeof echarts === 'undefined') return;
  var d = JSON.parse(data.textContent);
  var chart = echarts.init(el, null, { renderer: 'canvas' });
  chart.setOption({
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { data: ['参保人数', '目标任务', '目标线（' + d.goalLabel + '）', '上周参保人数'] },
    grid: { left: 60, right: 20, bottom: 80 },
    xAxis: { type: 'category', data: d.towns, axisLabel: { rotate: 40 } },
    yAxis: { type: 'value', name: '人' },
    series: [
      { name: '参保人数', type: 'bar', data: d.enrolled },
      { name: '目标任务', type: 'bar', data: d.target },
      { name: '目标线（' + d.goalLabel + '）', type: 'line', data: d.goal, symbol: 'diamond' },
      { name: '上周参保人数', type: 'line', data: d.previous, lineStyle: { type: 'dashed' } },
    ],
  });
  el.setAttribute('data-rendered', 'true');
  window.addEventListener('resize', function () {
    chart.resize();
  });
})();
